"""A server killed between renaming a job's results into ``outputs/`` and recording it done: after a
restart the job runs again and ends done with one complete result (not failed on the old folder)."""

from __future__ import annotations

import shutil

import nibabel as nib

from totalseg.serve.jobs import JobStore
from totalseg.serve.worker import run_job


def test_job_rerun_over_results_of_a_killed_run(tiny_settings, ct_small_path, tmp_path):
    store = JobStore(tmp_path / "data")
    job_id = store.new_folder()
    shutil.copyfile(ct_small_path, store.folder(job_id) / "input" / "image.nii.gz")
    store.submit(job_id, options={"task": "total", "fast": True, "ml": True}, input_name="image.nii.gz")
    store.update(job_id, status="running", progress=0.9)  # as left by a kill right after the rename:
    (store.folder(job_id) / "outputs").mkdir()  # the killed run's complete results, never recorded
    (store.folder(job_id) / "outputs" / "old_result.json").write_text("{}")

    restarted = JobStore(tmp_path / "data")
    assert restarted.requeue_interrupted() == [job_id]
    run_job(restarted, restarted.claim_next(), settings=tiny_settings)
    job = restarted.get(job_id)
    assert (job.status, job.error) == ("done", None)
    assert restarted.files(job_id) == ["segmentation.nii.gz"]
    assert nib.load(restarted.folder(job_id) / "outputs" / "segmentation.nii.gz").shape == (122, 101, 30)
    assert not (restarted.folder(job_id) / "staging").exists()
