"""The Ray backend on a local cluster (a head and a worker node): a batch with a corrupt case while
one worker process is SIGKILLed mid-run, then a resume."""

import sys
import threading
import time

import nibabel as nib
import numpy as np
import pyarrow.parquet as pq
import pytest

from totalseg.batch import Case, run_batch
from totalseg.batch.folder import BatchFolder
from totalseg.errors import InputError

ray = pytest.importorskip("ray")
OPTIONS = {"fastest": True, "ml": True, "device": "cpu"}


@pytest.fixture(scope="module")
def cluster():
    """Two nodes of one CPU each on this machine: one totalseg worker per node."""
    from ray.cluster_utils import Cluster

    nodes = {"num_cpus": 1, "object_store_memory": 100 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={**nodes, "include_dashboard": False})
    cluster.add_node(**nodes)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="module")
def ray_scans(tmp_path_factory, make_phantom):
    folder = tmp_path_factory.mktemp("ray_scans")
    for i in range(3):
        img = nib.Nifti1Image(make_phantom((40, 36, 24), seed=10 + i), np.diag([3.0, 3.0, 3.0, 1.0]))
        nib.save(img, folder / f"p{i}.nii.gz")
    (folder / "broken.nii.gz").write_bytes(b"\x1f\x8b not a gzip stream")
    return folder


def kill_a_busy_worker(markers, killed: dict, stop: threading.Event) -> None:
    """Once a first case is done (models loaded), SIGKILL a worker process that is running a case."""
    import psutil

    while not stop.is_set():
        if markers.is_dir() and any(markers.iterdir()):
            titles = {p: " ".join(p.info["cmdline"] or ()) for p in psutil.process_iter(["cmdline"])}
            actors = [p for p, title in titles.items() if "ray::CaseActor" in title]
            busy = [p for p in actors if "CaseActor.run" in titles[p]]  # Ray titles a process by its task
            if busy:
                killed["before"] = {p.pid for p in actors}
                busy[0].kill()
                killed["pid"] = busy[0].pid
                return
        time.sleep(0.02)


def test_ray_batch_survives_a_killed_worker_and_resumes(cluster, ray_scans, tiny_settings, tmp_path):
    out = tmp_path / "out"
    cases = [Case(f"c{i}", ray_scans / f"p{i % 3}.nii.gz") for i in range(8)] + [
        Case("broken", ray_scans / "broken.nii.gz")]
    killed, stop = {}, threading.Event()
    killer = threading.Thread(target=kill_a_busy_worker, args=(out / ".totalseg-batch" / "done", killed, stop))
    killer.start()
    try:
        summary = run_batch(cases, out, options=OPTIONS, settings=tiny_settings, ray_address=cluster.address,
                            threads=2, progress=False)
    finally:
        stop.set()
        killer.join()
    assert killed, "no case finished before the run ended"
    assert (summary.total, summary.ok, summary.failed) == (9, 8, 1), summary.failures
    assert summary.failures[0][0] == "broken"
    rows = {r["case"]: r for r in pq.read_table(out / "results.parquet").to_pylist()}
    assert len(rows) == 9 and rows["broken"]["status"] == "error" and "broken.nii.gz" in rows["broken"]["error"]
    workers = {int(rows[f"c{i}"]["worker"].rsplit(":", 1)[1]) for i in range(8)}
    # the killed worker's case went to the actor that replaced it, which finished it
    assert workers - killed["before"], (workers, killed)
    first = nib.load(out / "c0" / "segmentations.nii.gz").get_fdata()
    assert np.array_equal(first, nib.load(out / "c3" / "segmentations.nii.gz").get_fdata())  # same input
    assert not (out / ".totalseg-batch" / "staging").exists()

    # a second run over the same cases only retries the failed one
    again = run_batch(cases, out, options=OPTIONS, settings=tiny_settings, ray_address=cluster.address,
                      progress=False)
    assert (again.ok, again.failed, again.skipped) == (8, 1, 8)
    assert all(BatchFolder(out).is_done(f"c{i}") for i in range(8))


@pytest.mark.parametrize("address", ["nohost", "a:b:c"])
def test_bad_ray_address_is_one_line(ray_scans, tiny_settings, tmp_path, address):
    with pytest.raises(InputError, match=f"--ray {address}: cannot join a Ray cluster.*ray start --head"):
        run_batch([Case("p0", ray_scans / "p0.nii.gz")], tmp_path / "out", options=OPTIONS, settings=tiny_settings,
                  ray_address=address, progress=False)


def test_missing_ray_gives_the_install_command(ray_scans, tiny_settings, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InputError, match=r"pip install 'totalseg\[ray\]'"):
        run_batch([Case("p0", ray_scans / "p0.nii.gz")], tmp_path / "out", options=OPTIONS, settings=tiny_settings,
                  ray_address="auto", progress=False)
