"""Jobs page: every job of the job store shared with ``totalseg serve`` and ``totalseg dicom-node``,
this app's own runs included; a job's files to download, its result to open in the viewer."""

from __future__ import annotations

import streamlit as st

from totalseg.serve.jobs import Job, JobStore
from totalseg.ui.config import AppConfig
from totalseg.ui.shared_jobs import can_open, describe_options, input_label, job_rows, open_job
from totalseg.ui.views import session

REFRESH_S = 2.0


def render(config: AppConfig) -> None:
    """Draw the Jobs page: the table of jobs, then the chosen job's details, files and actions."""
    st.header("Jobs")
    if config.job_store is None:
        st.info("No job store: start the app with `totalseg ui --job-store DIR` (the `--data-dir` of "
                "`totalseg serve` and `totalseg dicom-node`) to list their jobs here.")
        return
    store = session.job_store(str(config.job_store))
    st.caption(f"Jobs in `{config.job_store}` from the HTTP API (`totalseg serve`), the DICOM node "
               "(`totalseg dicom-node`) and this app's runs, newest first.")
    st.button("Refresh", key="jobs_refresh", help="Reread the store (the table refreshes itself while jobs run)")
    rows = job_rows(store)
    if not rows:
        st.info("No jobs yet: runs on the **Segment** page, uploads to the API and series sent to the DICOM "
                "node appear here.")
        return
    _table(store, active=any(r["status"] in ("queued", "running") for r in rows))
    labels = {r["id"]: f"{r['created']}  {r['source']}  {r['status']}  {r['input']}" for r in rows}
    chosen = st.selectbox("Job", list(labels), format_func=labels.get, key="jobs_pick")
    job = store.get(chosen)
    if job is None:
        st.warning("This job was deleted meanwhile.")
        return
    _details(store, job)


def _table(store: JobStore, *, active: bool) -> None:
    """The jobs table; refreshed every few seconds while a job waits or runs."""

    @st.fragment(run_every=REFRESH_S if active else None)
    def table() -> None:
        st.dataframe(job_rows(store), hide_index=True, width="stretch", column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0),
            "files": st.column_config.NumberColumn("files"),
        })

    table()


def _details(store: JobStore, job: Job) -> None:
    st.subheader(f"{job.source} job {job.id[:8]}: {job.status}")
    st.caption(f"{describe_options(job.options)}; input {input_label(job)}")
    if job.error:
        st.error(job.error, icon="⚠️")
    if job.meta:
        with st.expander("Details from the front end that submitted it"):
            st.json(job.meta)
    for name in store.files(job.id):
        st.download_button(f"Download {name}", data=(store.folder(job.id) / "outputs" / name).read_bytes(),
                           file_name=name, key=f"jobs_dl_{job.id}_{name}")
    cols = st.columns(2)
    if can_open(store, job) and cols[0].button("Open in the viewer", key="jobs_open"):
        with st.spinner("Reading the image and its segmentation"):
            session.set_case(open_job(store, job))
        st.session_state.pop(session.OUTCOME, None)
        st.success("Opened: see the **Viewer**, **Measurements** and **Export** pages.")
    if cols[1].button("Delete this job", key="jobs_delete", disabled=job.status == "running",
                      help="A running job cannot be deleted here; it can through the API (DELETE /jobs/ID)."):
        store.delete(job.id)
        st.session_state.pop("jobs_pick", None)
        st.rerun()
