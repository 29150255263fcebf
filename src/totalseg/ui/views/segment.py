"""Segment page: choose an image (upload or server folder), the task, mode, region subset and device; run."""

from __future__ import annotations

import streamlit as st
import torch

from totalseg.errors import InputError
from totalseg.models.store import WeightsStore
from totalseg.models.tasks import MODES, TASK_NAMES, get_task
from totalseg.ui.case import Case, RunChoice, open_case
from totalseg.ui.config import AppConfig
from totalseg.ui.inputs import resolve_server_file, save_upload, server_files
from totalseg.ui.jobs import DONE, FAILED, Job
from totalseg.ui.progress import estimate_tiles
from totalseg.ui.shared_jobs import segment_recorded
from totalseg.ui.views import session

TASKS = {name: f"{get_task(name).modality.upper()}: {name} ({len(get_task(name).classes)} structures"
         f"{', licensed' if get_task(name).license else ''})" for name in TASK_NAMES if get_task(name).usable}
MODE_HELP = {"full": "1.5 mm, 5 models (CT) / 2 models (MR)", "fast": "3 mm, one model", "fastest": "6 mm, one model"}


def render(config: AppConfig) -> None:
    """Draw the Segment page: a finished run's outcome, the image choice, the run form and progress."""
    st.header("Segment")
    _report_outcome()
    _choose_image(config)
    case = session.current_case()
    if case is not None:
        _describe(case)
        _run_form(case, config)
    job = st.session_state.get(session.JOB)
    if job is not None:
        _progress(job, config)


def available_devices() -> list[str]:
    """``cpu`` plus every CUDA GPU (``gpu:N``) and Apple's ``mps`` where present."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"gpu:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def _choose_image(config: AppConfig) -> None:
    sources = ["Upload a file"] + (["Server folder"] if config.data_dir is not None else [])
    source = st.radio("Image source", sources, horizontal=True, key="source") if len(sources) > 1 else sources[0]
    if source == "Upload a file":
        uploaded = st.file_uploader(
            "CT or MR image: NIfTI (.nii, .nii.gz), NRRD (.nrrd), MetaImage (.mha) or a .zip of one DICOM series",
            key="upload",
        )
        if uploaded is not None and st.session_state.get("opened") != uploaded.file_id:
            st.session_state["opened"] = uploaded.file_id
            session.clear_uploads()
            folder = session.session_folder()
            with st.spinner(f"Reading {uploaded.name}"):
                path = save_upload(uploaded.name, uploaded, folder)
                _open(open_case(uploaded.name, path))
        return
    files = server_files(config.data_dir)
    if not files:
        st.warning(f"No images in the server folder {config.data_dir}.")
        return
    choice = st.selectbox("Image on the server", files, key="server_file")
    if st.button("Open", key="open_server"):
        path = resolve_server_file(config.data_dir, choice)
        st.session_state["opened"] = f"server:{choice}"
        with st.spinner(f"Reading {choice}"):
            _open(open_case(choice, path))


def _open(case: Case) -> None:
    session.set_case(case)
    st.session_state.pop(session.JOB, None)
    st.session_state.pop(session.OUTCOME, None)


def _describe(case: Case) -> None:
    image = case.image
    shape = " x ".join(str(n) for n in image.shape)
    spacing = " x ".join(f"{s:.2f}" for s in image.spacing_mm)
    low, high = case.intensity_range
    st.caption(f"**{case.name}**: {shape} voxels of {spacing} mm, intensities {low:.0f} to {high:.0f}"
               + (f"; segmented with {case.choice.task} ({case.choice.mode}) in {case.seconds:.1f} s"
                  if case.choice else ""))
    if case.series is not None:
        st.caption(f"DICOM: {case.series.description}")
    for note in case.notes:
        st.warning(note, icon="ℹ️")


def _run_form(case: Case, config: AppConfig) -> None:
    with st.form("run"):
        cols = st.columns(3)
        default_task = list(TASKS).index("total_mr" if case.modality == "mr" else "total")
        task = cols[0].selectbox("Task", list(TASKS), index=default_task, format_func=TASKS.get, key="task")
        mode = cols[1].radio("Mode", MODES, index=MODES.index("fast"), horizontal=True, key="mode",
                             help="; ".join(f"{m}: {h}" for m, h in MODE_HELP.items()))
        device = cols[2].selectbox("Device", available_devices(), key="device")
        names = sorted(set(get_task("total").classes.values()) | set(get_task("total_mr").classes.values()))
        roi = st.multiselect("Only these structures (optional; faster: the image is cropped around them first)",
                             names, key="roi")
        bf16 = st.checkbox("Faster network (bfloat16): masks close to, not identical to, the official tool's",
                           key="bf16", help="About twice as fast on CPUs with AVX-512 BF16 or AMX; "
                                            "its Dice cost is measured in docs/benchmarks.md")
        submitted = st.form_submit_button("Run segmentation", type="primary")
    if submitted:
        choice = RunChoice(task=task, mode=mode, roi_subset=tuple(roi), device=device,
                           precision="bf16" if bf16 else "nnunet")
        _submit(case, choice, config)


def _submit(case: Case, choice: RunChoice, config: AppConfig) -> None:
    the_task = get_task(choice.task, choice.mode)
    unknown = [n for n in choice.roi_subset if n not in the_task.classes.values()]
    if unknown:
        st.error(f"{', '.join(unknown)}: not structures of the task {choice.task}; remove them or change the task")
        return
    total = estimate_tiles(case.image, the_task, WeightsStore(config.settings.weights_dir), choice.roi_subset)

    store = _job_store(config)

    def work(job: Job) -> Case:
        return segment_recorded(store, case, choice, settings=config.settings, download=config.download,
                                on_tile=job.tick, on_stage=job.set_stage)

    label = f"{choice.task} ({choice.mode}) on {case.name}"
    st.session_state.pop(session.OUTCOME, None)
    st.session_state[session.JOB] = session.runner(config.workers).submit(work, label=label, total_ticks=total)


def _job_store(config: AppConfig):
    """The shared job store the run is recorded in; ``None`` (the run still happens, unrecorded, with a
    warning) when there is none or it cannot be opened."""
    if config.job_store is None:
        return None
    try:
        return session.job_store(str(config.job_store))
    except InputError as exc:
        st.warning(f"{exc}; this run is not recorded on the Jobs page", icon="ℹ️")
        return None


_STAGES = {"": "starting", "load": "loading the models", "predict": "predicting", "write": "finishing"}


def _report_outcome() -> None:
    """Say how the last finished run went (until another run or image)."""
    job = st.session_state.get(session.OUTCOME)
    if job is None:
        return
    if job.state == DONE:
        st.success(f"Done in {job.result.seconds:.1f} s: {len(job.result.present)} structures found. "
                   "See the **Viewer**, **Measurements** and **Export** pages.")
    else:
        st.error(f"The run failed: {job.error}", icon="⚠️")


def _progress(job: Job, config: AppConfig) -> None:
    """A progress bar refreshed twice a second; the rest of the page stays usable meanwhile."""

    @st.fragment(run_every=0.5)
    def poll() -> None:
        if job.state in (DONE, FAILED):
            st.rerun()
        ahead = session.runner(config.workers).ahead_of(job)
        if ahead:
            st.progress(0.0, text=f"Waiting: {ahead} run(s) ahead of yours")
        else:
            text = f"{job.label}: {_STAGES.get(job.stage, job.stage)}, {job.ticks} tiles, {job.seconds:.0f} s"
            st.progress(job.fraction, text=text)

    poll()
