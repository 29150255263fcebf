from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

import totalseg

AUTH = {"Authorization": "Bearer s3cret"}  # the token of conftest.make_client


def _submit(client, path, **fields):
    with open(path, "rb") as f:
        return client.post("/jobs", headers=AUTH, files={"file": (path.name, f)},
                           data={k: str(v).lower() for k, v in fields.items()})


def test_job_end_to_end_equals_segment(make_client, ct_small_path, tiny_settings, tmp_path, wait_done):
    with make_client() as client:
        reply = _submit(client, ct_small_path, fast=True, statistics=True, qc=True, preview=True)
        assert reply.status_code == 201, reply.text
        job_id = reply.json()["id"]
        state = wait_done(client, job_id)
        assert state == {"id": job_id, "status": "done", "progress": 1.0, "error": None}
        listed = client.get(f"/jobs/{job_id}/files", headers=AUTH).json()
        assert {"segmentation.nii.gz", "statistics.json", "qc.json", "preview_total.png"} <= set(listed)
        got = client.get(f"/jobs/{job_id}/files/segmentation.nii.gz", headers=AUTH)
        assert got.status_code == 200
    (tmp_path / "served.nii.gz").write_bytes(got.content)
    expected = totalseg.segment(ct_small_path, None, fast=True, ml=True, settings=tiny_settings, quiet=True,
                                download=False)
    served = nib.load(tmp_path / "served.nii.gz")
    np.testing.assert_array_equal(np.asarray(served.dataobj), np.asarray(expected.dataobj))
    np.testing.assert_array_equal(served.affine, expected.affine)


def test_per_class_masks_zip_and_delete(make_client, ct_small_path, data_dir, wait_done):
    with make_client() as client:
        job_id = _submit(client, ct_small_path, fast=True, ml=False, roi_subset="liver, spleen").json()["id"]
        assert wait_done(client, job_id)["status"] == "done"
        assert client.get(f"/jobs/{job_id}/files", headers=AUTH).json() == ["masks.zip", "segmentation.nii.gz"]
        assert client.delete(f"/jobs/{job_id}", headers=AUTH).status_code == 204
        assert not (data_dir / "jobs" / job_id).exists()
        assert client.get(f"/jobs/{job_id}", headers=AUTH).status_code == 404


def test_failed_job_reports_one_line(make_client, ct_small_path, wait_done):
    with make_client() as client:
        job_id = _submit(client, ct_small_path, task="no_such_task").json()["id"]
        state = wait_done(client, job_id)
    assert state["status"] == "failed"
    assert "no_such_task" in state["error"] and "\n" not in state["error"]


def test_auth(make_client):
    with make_client(start_workers=False) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": "s3cret"}).status_code == 401
        reply = client.post("/jobs", files={"file": ("a.nii.gz", b"x")})
        assert reply.status_code == 401 and "token" in reply.json()["detail"]
        assert client.get("/metrics", headers=AUTH).status_code == 200


def test_metrics_counts_jobs_by_status(make_client, ct_small_path):
    with make_client(start_workers=False) as client:
        assert _submit(client, ct_small_path).status_code == 201
        assert client.post("/jobs", headers=AUTH, files={"file": ("x.txt", b"x")}).status_code == 400
        text = client.get("/metrics", headers=AUTH).text
    assert 'totalseg_jobs{status="queued"} 1.0' in text
    assert 'totalseg_jobs{status="done"} 0.0' in text
    assert "totalseg_jobs_accepted_total 1.0" in text
    assert "totalseg_uploads_refused_total 1.0" in text


def test_delete_while_running_leaves_nothing_and_worker_goes_on(make_client, ct_small_path, data_dir, wait_done):
    import time

    with make_client() as client:
        first = _submit(client, ct_small_path, fast=True).json()["id"]
        deadline = time.monotonic() + 20
        while client.get(f"/jobs/{first}", headers=AUTH).json()["status"] == "queued" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.delete(f"/jobs/{first}", headers=AUTH).status_code == 204
        second = _submit(client, ct_small_path, fast=True).json()["id"]
        assert wait_done(client, second)["status"] == "done"
    assert [p.name for p in (data_dir / "jobs").iterdir()] == [second]


def test_restart_requeues_running_job(make_client, ct_small_path, data_dir, wait_done):
    with make_client(start_workers=False) as client:
        job_id = _submit(client, ct_small_path, fast=True).json()["id"]
    store = client.app.state.store
    store.update(job_id, status="running", progress=0.3)  # a server killed mid-job
    (store.folder(job_id) / "staging").mkdir()
    (store.folder(job_id) / "staging" / "segmentation.nii.gz").write_bytes(b"half")
    with make_client() as client:
        assert wait_done(client, job_id)["status"] == "done"
        assert nib.load(store.folder(job_id) / "outputs" / "segmentation.nii.gz").shape == nib.load(ct_small_path).shape
    assert not (store.folder(job_id) / "staging").exists()


def test_unknown_job_and_file(make_client):
    with make_client(start_workers=False) as client:
        assert client.get("/jobs/../../etc", headers=AUTH).status_code == 404
        assert client.get("/jobs/" + "0" * 32, headers=AUTH).status_code == 404
        assert client.get("/jobs/" + "0" * 32 + "/files/x", headers=AUTH).status_code == 404


def test_dicom_zip_job(make_client, tiny_settings, tmp_path, wait_done):
    import shutil

    series = Path(__file__).resolve().parents[1] / "data" / "dicom_ct_j2k"
    archive = Path(shutil.make_archive(str(tmp_path / "study"), "zip", series))
    with make_client() as client:
        job_id = _submit(client, archive, fast=True).json()["id"]
        assert wait_done(client, job_id)["status"] == "done"
        got = client.get(f"/jobs/{job_id}/files/segmentation.nii.gz", headers=AUTH).content
    (tmp_path / "served.nii.gz").write_bytes(got)
    expected = totalseg.segment(series, None, fast=True, ml=True, settings=tiny_settings, quiet=True, download=False)
    served = nib.load(tmp_path / "served.nii.gz")
    np.testing.assert_array_equal(np.asarray(served.dataobj), np.asarray(expected.dataobj))


def test_cli_refuses_open_host_without_token(capsys):
    from totalseg.cli import main

    assert main(["serve", "--host", "0.0.0.0", "--data-dir", "unused"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--token" in err


def test_two_workers_run_jobs_side_by_side(make_client, ct_small_path, data_dir, wait_done):
    with make_client(n_workers=2) as client:
        ids = [_submit(client, ct_small_path, fast=True).json()["id"] for _ in range(2)]
        assert [wait_done(client, job_id)["status"] for job_id in ids] == ["done", "done"]
    first, second = (nib.load(data_dir / "jobs" / i / "outputs" / "segmentation.nii.gz") for i in ids)
    np.testing.assert_array_equal(np.asarray(first.dataobj), np.asarray(second.dataobj))
