"""The job store shared by ``totalseg serve``, ``totalseg dicom-node`` and the web app: its fields,
old ``job.json`` files, and safety across processes (no job claimed twice, no update lost)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from totalseg.measure.files import write_json
from totalseg.serve.jobs import JobStore
from totalseg.serve.locking import exclusive, release, try_hold


def _queued(store: JobStore, n: int, **kwargs) -> list[str]:
    ids = []
    for _ in range(n):
        job_id = store.new_folder()
        store.submit(job_id, options={"task": "total"}, input_name="ct.nii.gz", **kwargs)
        ids.append(job_id)
    return ids


def test_submit_records_source_created_and_meta(tmp_path):
    store = JobStore(tmp_path)
    before = time.time()
    (job_id,) = _queued(store, 1, source="dicom-node", meta={"deliver_to": "PACS@10.0.0.5:104"})
    job = store.get(job_id)
    assert (job.status, job.source, job.meta) == ("queued", "dicom-node", {"deliver_to": "PACS@10.0.0.5:104"})
    assert before <= job.created <= time.time()
    assert job.public() == {"id": job_id, "status": "queued", "progress": 0.0, "error": None}
    assert store.get(_queued(store, 1)[0]).source == "api"
    with pytest.raises(ValueError, match="source 'pacs'"):
        store.submit(store.new_folder(), options={}, input_name="x", source="pacs")


def test_old_job_json_without_new_keys_loads(tmp_path):
    store = JobStore(tmp_path)
    folder = tmp_path / "jobs" / ("a" * 32)
    folder.mkdir(parents=True)
    old = {"id": "a" * 32, "status": "done", "options": {"ml": True}, "input_name": "ct.nii.gz",
           "progress": 1.0, "error": None}
    (folder / "job.json").write_text(json.dumps(old))
    job = store.get("a" * 32)
    assert (job.source, job.meta, job.status) == ("api", {}, "done")
    assert job.created == pytest.approx((folder / "job.json").stat().st_mtime)


def test_queue_index_follows_status_and_old_stores_are_indexed_on_start(tmp_path):
    store = JobStore(tmp_path)
    first, second = _queued(store, 2)
    assert sorted(p.name for p in (tmp_path / "queue").iterdir()) == sorted([first, second])
    store.update(first, status="done")  # written by a tool: the index follows
    store.delete(second)
    assert list((tmp_path / "queue").iterdir()) == []
    folder = tmp_path / "jobs" / ("b" * 32)  # a queued job of a store from before the index
    folder.mkdir()
    (folder / "job.json").write_text(json.dumps({"id": "b" * 32, "status": "queued", "input_name": "x"}))
    (tmp_path / "queue" / ("c" * 32)).touch()  # an entry whose job is gone
    assert store.claim_next() is None and not (tmp_path / "queue" / ("c" * 32)).exists()
    assert JobStore(tmp_path).requeue_interrupted() == []  # a starting server indexes it
    assert store.claim_next().id == "b" * 32


def test_claim_takes_oldest_first_and_update_keeps_other_fields(tmp_path):
    store = JobStore(tmp_path)
    first, second = _queued(store, 2, meta={"k": 1})
    store.update(second, created=0.0)  # submitted earlier than the first
    assert store.claim_next().id == second
    assert store.update(second, progress=0.5).meta == {"k": 1}
    assert store.claim_next().id == first
    assert store.claim_next() is None


def test_merge_meta_keeps_other_entries(tmp_path):
    store = JobStore(tmp_path)
    (job_id,) = _queued(store, 1, source="dicom-node", meta={"target": "PACS"})
    assert store.merge_meta(job_id, delivery={"status": "sent"}).meta == {"target": "PACS",
                                                                        "delivery": {"status": "sent"}}
    assert store.merge_meta(job_id, target="ORTHANC").meta == {"target": "ORTHANC", "delivery": {"status": "sent"}}
    store.delete(job_id)
    assert store.merge_meta(job_id, x=1) is None and not store.folder(job_id).exists()


def test_begin_is_running_and_never_claimed(tmp_path):
    store = JobStore(tmp_path)
    job_id = store.new_folder()
    job = store.begin(job_id, options={"task": "total"}, input_name="ct.nii.gz", source="app")
    assert (job.status, job.source) == ("running", "app")
    assert store.claim_next() is None
    assert store.requeue_interrupted() == []  # this process still runs it
    assert store.update(job_id, status="done", progress=1.0).status == "done"


def test_requeue_leaves_jobs_of_live_processes(tmp_path):
    store = JobStore(tmp_path)
    alive, dead, app_run = _queued(store, 3)
    for job_id in (alive, dead, app_run):
        store.update(job_id, status="running")
    store.update(app_run, source="app")
    holder = try_hold(store.folder(alive) / "run.lock")  # another process working on it
    try:
        other = JobStore(tmp_path)  # a second server starting on the same folder
        assert other.requeue_interrupted() == [dead]
    finally:
        release(holder)
    assert store.get(alive).status == "running"
    assert store.get(dead).status == "queued"
    assert store.get(app_run).status == "failed" and "web app" in store.get(app_run).error


_CLAIMER = """
import json, sys, time
from pathlib import Path
from totalseg.serve.jobs import JobStore
store = JobStore(sys.argv[1])
go = Path(sys.argv[1]) / "go"
while not go.exists():
    time.sleep(0.001)
claimed = []
while (job := store.claim_next()) is not None:
    claimed.append(job.id)
    store.update(job.id, meta={"by": sys.argv[2]})
print(json.dumps(claimed))
"""


def test_two_processes_never_claim_the_same_job(tmp_path):
    store = JobStore(tmp_path)
    ids = _queued(store, 40)
    procs = [subprocess.Popen([sys.executable, "-c", _CLAIMER, str(tmp_path), name], stdout=subprocess.PIPE,
                              text=True) for name in ("a", "b")]
    time.sleep(0.8)  # both processes are up and waiting
    (tmp_path / "go").touch()
    claimed = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(claimed[0] + claimed[1]) == sorted(ids)  # each job once, none lost
    assert not set(claimed[0]) & set(claimed[1])
    for name, mine in zip("ab", claimed):
        assert all(store.get(i).meta == {"by": name} and store.get(i).status == "running" for i in mine)


_UPDATER = """
import sys, time
from pathlib import Path
from totalseg.serve.jobs import JobStore
store = JobStore(sys.argv[1])
job_id, field = sys.argv[2], sys.argv[3]
while not (Path(sys.argv[1]) / "go").exists():
    time.sleep(0.001)
lost = 0
for i in range(1, 301):
    if field == "progress":
        lost += store.get(job_id).progress != (i - 1) / 300  # the other process overwrote my last value
        store.update(job_id, progress=i / 300)
    else:
        lost += store.get(job_id).meta.get("n", 0) != i - 1
        store.update(job_id, meta={"n": i})
print(lost)
"""


def test_concurrent_updates_from_two_processes_lose_nothing(tmp_path):
    store = JobStore(tmp_path)
    (job_id,) = _queued(store, 1)
    procs = [subprocess.Popen([sys.executable, "-c", _UPDATER, str(tmp_path), job_id, what], stdout=subprocess.PIPE,
                              text=True) for what in ("progress", "meta")]
    time.sleep(0.8)  # both processes are up and waiting
    (tmp_path / "go").touch()
    assert [int(p.communicate(timeout=60)[0]) for p in procs] == [0, 0]  # no write undone by the other
    assert (store.get(job_id).progress, store.get(job_id).meta) == (1.0, {"n": 300})


_CLAIM_ONE = """
import json, sys
from pathlib import Path
from totalseg.serve.jobs import JobStore
store = JobStore(sys.argv[1])
(Path(sys.argv[1]) / "ready").touch()
job = store.claim_next()
print(json.dumps(job and job.id))
"""


def test_a_claim_waits_for_the_store_lock_and_reads_the_job_again(tmp_path):
    store = JobStore(tmp_path)
    (job_id,) = _queued(store, 1)
    with exclusive(tmp_path / ".jobs.lock", threading.Lock()):  # another process changing the store
        proc = subprocess.Popen([sys.executable, "-c", _CLAIM_ONE, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not (tmp_path / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # the claim has seen the job queued and waits for the lock
        assert proc.poll() is None
        job_json = store.folder(job_id) / "job.json"
        write_json({**json.loads(job_json.read_text()), "status": "running"}, job_json)  # the other one claims it
    assert json.loads(proc.communicate(timeout=30)[0]) is None
    assert store.get(job_id).status == "running"


_CLAIM_AND_HANG = """
import sys, time
from pathlib import Path
from totalseg.serve.jobs import JobStore
job = JobStore(sys.argv[1]).claim_next()
(Path(sys.argv[1]) / "claimed").write_text(job.id)
time.sleep(600)
"""


def test_a_running_pool_takes_back_the_job_of_a_process_that_died(tmp_path):
    from totalseg.serve.worker import WorkerPool
    from totalseg.settings import Settings

    store = JobStore(tmp_path)
    (job_id,) = _queued(store, 1)
    pool = WorkerPool(store, settings=Settings.from_env(), n_workers=0, recover_s=0.1)  # only the recovery
    pool.start()
    other = subprocess.Popen([sys.executable, "-c", _CLAIM_AND_HANG, str(tmp_path)])  # a second server
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "claimed").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (tmp_path / "claimed").read_text() == job_id
        time.sleep(0.5)  # several recovery rounds while the other process lives
        assert store.get(job_id).status == "running"
        other.kill()  # it dies mid-job (SIGKILL: no cleanup)
        other.wait(timeout=30)
        deadline = time.monotonic() + 10
        while store.get(job_id).status == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.get(job_id).status == "queued"  # without restarting this process
        assert store.claim_next().id == job_id
    finally:
        other.kill()
        pool.stop()


@pytest.mark.parametrize("module", ["totalseg.serve.jobs", "totalseg.serve.locking", "totalseg.settings"])
def test_docstring_examples(module):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(module), raise_on_error=False).failed == 0


def test_serve_data_dir_defaults_to_the_shared_store(monkeypatch, tmp_path):
    uvicorn = pytest.importorskip("uvicorn")
    pytest.importorskip("fastapi")
    from totalseg.cli import main

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(app))
    monkeypatch.setenv("TOTALSEG_DATA_DIR", str(tmp_path / "shared"))
    assert main(["serve"]) == 0
    assert served[0].state.store.root == tmp_path / "shared" / "jobs"


def test_api_jobs_record_source_and_the_clients_file_name(make_client, ct_small_path, data_dir):
    with make_client(start_workers=False) as client, open(ct_small_path, "rb") as f:
        reply = client.post("/jobs", headers={"Authorization": "Bearer s3cret"},
                            files={"file": ("..\\evil/dir\\ct scan.nii.gz", f)})
    job = JobStore(data_dir).get(reply.json()["id"])
    assert (job.source, job.meta, job.input_name) == ("api", {"name": "ct scan.nii.gz"}, "image.nii.gz")
