"""The Jobs page: one job store shared by the HTTP API, the DICOM node and the app's own runs."""

from __future__ import annotations

import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from totalseg.serve.jobs import JobStore
from totalseg.ui.case import RunChoice
from totalseg.ui.config import AppConfig
from totalseg.ui.export import multilabel_file
from totalseg.ui.shared_jobs import segment_recorded


def _app(weights: str, job_store: str) -> None:
    from pathlib import Path

    from totalseg.settings import Settings
    from totalseg.ui.config import AppConfig
    from totalseg.ui.main import run_app

    settings = Settings(home_dir=Path(weights).parent, weights_dir=Path(weights))
    run_app(AppConfig(settings=settings, download=False, job_store=Path(job_store)))


def _jobs_app(weights: Path, data_dir: Path, page: str = "Jobs") -> AppTest:
    at = AppTest.from_function(_app, args=(str(weights), str(data_dir)), default_timeout=60)
    at.run()
    at.sidebar.radio(key="page").set_value(page).run()
    return at


def _no_errors(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == []


def _api_job(data_dir: Path, image: Path) -> str:
    """A job submitted through the HTTP API (``POST /jobs``) on ``data_dir``; no worker runs it."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from totalseg.serve.app import create_app
    from totalseg.settings import Settings

    app = create_app(Settings.from_env({}), data_dir, token="t", start_workers=False)
    with TestClient(app) as client, open(image, "rb") as f:
        reply = client.post("/jobs", headers={"Authorization": "Bearer t"}, files={"file": (image.name, f)},
                            data={"task": "total", "fast": "true"})
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


def _finished_node_job(store: JobStore, case) -> str:
    """A DICOM-node job as its worker leaves it: done, with the segmentation of its input."""
    job_id = store.new_folder()
    (store.folder(job_id) / "input" / case.path.name).write_bytes(case.path.read_bytes())
    store.submit(job_id, options={"task": "total", "fast": True, "ml": True}, input_name=case.path.name,
                 source="dicom-node", meta={"series_uid": "1.2.3", "modality": "CT", "calling_ae": "PACS",
                                            "delivery": {"status": "delivered", "target": "PACS@127.0.0.1:11112"}})
    store.update(job_id, status="running", progress=0.3)
    multilabel_file(case, store.folder(job_id) / "outputs")
    store.update(job_id, status="done", progress=1.0)
    return job_id


def test_api_and_dicom_node_jobs_show_and_open_in_the_viewer(tiny_weights, tmp_path, ct_small_path, phantom_case):
    data_dir = tmp_path / "shared"
    api_id = _api_job(data_dir, ct_small_path)
    store = JobStore(data_dir)
    node_id = _finished_node_job(store, phantom_case)
    at = _jobs_app(tiny_weights, data_dir)
    _no_errors(at)
    table = at.dataframe[0].value.set_index("id")
    assert table.loc[api_id, ["source", "status", "task", "input"]].tolist() == [
        "api", "queued", "total (fast)", ct_small_path.name]  # the client's name (stored as image.nii.gz)
    assert table.loc[node_id, ["source", "status", "progress", "files", "delivery", "input"]].tolist() == [
        "dicom-node", "done", 1.0, 1, "delivered", "CT series 1.2.3 from PACS"]
    assert list(table.index) == [node_id, api_id]  # newest first
    assert at.selectbox(key="jobs_pick").value == node_id
    assert [b.label for b in at.get("download_button")] == ["Download segmentation.nii.gz"]
    assert "PACS@127.0.0.1:11112" in at.get("json")[0].proto.body
    at.button(key="jobs_open").click().run()
    _no_errors(at)
    case = at.session_state["case"]
    np.testing.assert_array_equal(case.labels.array, phantom_case.labels.array)
    assert case.present == phantom_case.present and case.choice.task == "total"
    at.sidebar.radio(key="page").set_value("Viewer").run()
    _no_errors(at)

    at.sidebar.radio(key="page").set_value("Jobs").run()
    at.selectbox(key="jobs_pick").set_value(api_id).run()
    assert not at.get("download_button")
    assert [b.key for b in at.button] == ["jobs_refresh", "jobs_delete"]  # nothing to open yet
    at.button(key="jobs_delete").click().run()
    _no_errors(at)
    assert store.get(api_id) is None and list(at.dataframe[0].value["id"]) == [node_id]


def test_a_dicom_job_the_api_ran_opens_in_the_viewer(tiny_weights, tiny_settings, tmp_path):
    pytest.importorskip("fastapi")
    import shutil

    from fastapi.testclient import TestClient

    from totalseg.serve.app import create_app

    series = Path(__file__).resolve().parents[1] / "data" / "dicom_ct_j2k"
    archive = Path(shutil.make_archive(str(tmp_path / "study"), "zip", series))
    data_dir = tmp_path / "shared"
    auth = {"Authorization": "Bearer t"}
    with TestClient(create_app(tiny_settings, data_dir, token="t")) as client, open(archive, "rb") as f:
        reply = client.post("/jobs", headers=auth, files={"file": ("study.zip", f)}, data={"fastest": "true"})
        job_id = reply.json()["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/jobs/{job_id}", headers=auth).json()["status"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        served = client.get(f"/jobs/{job_id}/files/segmentation.nii.gz", headers=auth).content
    (tmp_path / "served.nii.gz").write_bytes(served)
    at = _jobs_app(tiny_weights, data_dir)
    assert at.dataframe[0].value[["source", "status", "task"]].values.tolist() == [["api", "done", "total (fastest)"]]
    at.button(key="jobs_open").click().run()
    _no_errors(at)
    case = at.session_state["case"]
    assert case.is_dicom  # the extracted series, so the DICOM-SEG export can reference it
    np.testing.assert_array_equal(case.labels.array, np.asanyarray(nib.load(tmp_path / "served.nii.gz").dataobj))
    at.sidebar.radio(key="page").set_value("Export").run()
    _no_errors(at)


def test_app_runs_are_recorded_in_the_store(tiny_weights, tmp_path, ct_small_path):
    data_dir = tmp_path / "shared"
    at = _jobs_app(tiny_weights, data_dir, page="Segment")
    at.file_uploader(key="upload").set_value((ct_small_path.name, ct_small_path.read_bytes(),
                                               "application/octet-stream")).run()
    at.radio(key="mode").set_value("fastest")
    at.get("form_submit_button")[0].click()
    at.run()
    deadline = time.monotonic() + 90
    while "outcome" not in at.session_state and time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
    assert at.session_state["outcome"].state == "done"
    (job,) = JobStore(data_dir).all()
    assert (job.source, job.status, job.progress, job.options["task"], job.options["fastest"]) == (
        "app", "done", 1.0, "total", True)
    stored = nib.load(JobStore(data_dir).folder(job.id) / "outputs" / "segmentation.nii.gz")
    np.testing.assert_array_equal(np.asanyarray(stored.dataobj), at.session_state["case"].labels.array)
    at.sidebar.radio(key="page").set_value("Jobs").run()
    _no_errors(at)
    assert at.dataframe[0].value[["source", "status", "input"]].values.tolist() == [["app", "done", ct_small_path.name]]


def test_an_unusable_job_store_does_not_stop_a_run(tiny_weights, tmp_path, phantom_case):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    at = _jobs_app(tiny_weights, blocker / "store", page="Segment")
    at.session_state["case"] = phantom_case
    at.run()
    at.radio(key="mode").set_value("fastest")
    at.get("form_submit_button")[0].click()
    at.run()
    assert "not recorded on the Jobs page" in at.warning[0].value
    deadline = time.monotonic() + 90
    while "outcome" not in at.session_state and time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
    assert at.session_state["outcome"].state == "done"  # the run itself went ahead
    at.sidebar.radio(key="page").set_value("Jobs").run()
    assert not at.exception and "cannot open" in at.error[0].value


def test_failed_app_run_is_recorded_failed(tiny_settings, tmp_path, phantom_case):
    store = JobStore(tmp_path / "shared")
    with pytest.raises(Exception, match="no_such_task|not a task|unknown task"):
        segment_recorded(store, phantom_case, RunChoice(task="no_such_task"), settings=tiny_settings, download=False)
    (job,) = store.all()
    assert job.status == "failed" and "no_such_task" in job.error and "\n" not in job.error
    assert store.claim_next() is None and store.files(job.id) == []


def test_a_run_of_a_stopped_app_shows_failed(tiny_weights, tmp_path, phantom_case):
    store = JobStore(tmp_path / "shared")
    job_id = store.new_folder()
    store.submit(job_id, options={"task": "total"}, input_name="ct.nii.gz", source="app")
    store.update(job_id, status="running")  # as a killed app process left it: running, its lock gone
    at = _jobs_app(tiny_weights, tmp_path / "shared")
    assert not at.exception
    assert at.dataframe[0].value[["source", "status"]].values.tolist() == [["app", "failed"]]
    assert "web app stopped" in at.error[0].value


def test_a_result_the_store_cannot_take_still_reaches_the_page(tiny_settings, tmp_path, phantom_case, monkeypatch):
    from totalseg.errors import OutputError
    from totalseg.ui import shared_jobs

    def full_disk(case, folder):
        folder.mkdir()
        raise OutputError(f"{folder}/segmentation.nii.gz: cannot write (No space left on device)")

    monkeypatch.setattr(shared_jobs, "multilabel_file", full_disk)
    store = JobStore(tmp_path / "shared")
    result = segment_recorded(store, phantom_case, RunChoice(mode="fastest"), settings=tiny_settings, download=False)
    assert result.labels is not None
    (job,) = store.all()
    assert job.status == "failed" and "could not be stored" in job.error and "No space left" in job.error
    assert not (store.folder(job.id) / "staging").exists() and store.files(job.id) == []


def test_no_store_configured_says_how(make_app):
    at = make_app(page="Jobs")
    assert not at.exception and "--job-store" in at.info[0].value


def test_job_store_setting_defaults_to_the_shared_data_dir():
    assert AppConfig.from_args([], {"TOTALSEG_DATA_DIR": "/srv/jobs"}).job_store == Path("/srv/jobs")
    assert AppConfig.from_args([], {"TOTALSEG_HOME_DIR": "/h"}).job_store == Path("/h/serve")
    assert AppConfig.from_args(["--job-store", "/x"], {"TOTALSEG_DATA_DIR": "/y"}).job_store == Path("/x")
    from totalseg.ui.launch import streamlit_command

    cmd = streamlit_command(job_store=Path("/srv/jobs"))
    assert cmd[cmd.index("--job-store") + 1] == "/srv/jobs"


def test_docstring_examples():
    import doctest

    from totalseg.ui import shared_jobs

    assert doctest.testmod(shared_jobs, raise_on_error=False).failed == 0
