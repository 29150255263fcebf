"""The Ray backend and a case that kills its actor every time: the batch finishes, that case is an
error after dying alone MAX_ATTEMPTS times, and every case that shared an actor with it is done once
and right (Ray's own per-call retries would count the poison's deaths against its neighbours)."""

import nibabel as nib
import numpy as np
import pyarrow.parquet as pq
import pytest

import totalseg
from totalseg.batch import Case, run_batch

ray = pytest.importorskip("ray")
from totalseg.batch.ray_runner import MAX_ATTEMPTS  # noqa: E402

OPTIONS = {"fastest": True, "ml": True, "device": "cpu"}


@pytest.fixture(scope="module")
def hooked_cluster(worker_hook):
    """A local cluster of two one-CPU nodes whose worker processes carry the poison hook."""
    from ray.cluster_utils import Cluster

    with pytest.MonkeyPatch.context() as env:
        log = worker_hook(env)
        nodes = {"num_cpus": 1, "object_store_memory": 100 * 2**20}
        cluster = Cluster(initialize_head=True, head_node_args={**nodes, "include_dashboard": False})
        cluster.add_node(**nodes)
        cluster.wait_for_nodes()
        yield cluster, log
    ray.shutdown()
    cluster.shutdown()


def test_a_case_that_kills_its_actor_fails_alone(hooked_cluster, scans, tiny_settings, tmp_path):
    cluster, case_log = hooked_cluster
    out = tmp_path / "out"
    names = ["c0", "poison", *(f"c{i}" for i in range(2, 8))]
    cases = [Case(name, scans / f"{name}.nii.gz") for name in names]
    summary = run_batch(cases, out, options=OPTIONS, settings=tiny_settings, ray_address=cluster.address,
                        threads=2, progress=False)

    starts = [line.split() for line in case_log.read_text().splitlines()]
    poison_pids = [pid for pid, name in starts if name == "poison.nii.gz"]
    shared = [name for pid, name in starts if pid == poison_pids[0] and name != "poison.nii.gz"]
    assert shared, "no other case was running when the poison killed its first actor"
    assert len(poison_pids) == MAX_ATTEMPTS + 1 == len(set(poison_pids)), (starts, summary.failures)

    assert (summary.total, summary.ok, summary.failed) == (8, 7, 1), summary.failures
    ((name, error),) = summary.failures
    assert name == "poison" and f"died on this case {MAX_ATTEMPTS} times while it ran alone" in error
    rows = {row["case"]: row for row in pq.read_table(out / "results.parquet").to_pylist()}
    assert sorted(rows) == sorted(names) and rows["poison"]["status"] == "error"
    assert all(row["status"] == "ok" for case, row in rows.items() if case != "poison"), rows
    expected = [np.asanyarray(totalseg.segment(scans / f"c{i}.nii.gz", quiet=True, settings=tiny_settings,
                                               **OPTIONS).dataobj) for i in range(3)]
    for i in (0, *range(2, 8)):
        got = np.asanyarray(nib.load(out / f"c{i}" / "segmentations.nii.gz").dataobj)
        assert np.array_equal(got, expected[i % 3]), f"c{i}"
