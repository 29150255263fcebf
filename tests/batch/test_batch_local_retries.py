"""Worker processes and a case that kills its worker every time: the batch finishes, that case is an
error after the retries, and every other case, those that shared a worker with it included, is done
once and right."""

import nibabel as nib
import numpy as np
import pyarrow.parquet as pq
import pytest

import totalseg
from totalseg.batch import Case, run_batch
from totalseg.batch.folder import BatchFolder
from totalseg.batch.local import MAX_ATTEMPTS

OPTIONS = {"fastest": True, "ml": True, "device": "cpu"}

@pytest.fixture()
def case_log(worker_hook, monkeypatch):
    """Install the worker hook for processes started from now on; returns its log file."""
    return worker_hook(monkeypatch)


def test_a_case_that_kills_its_worker_fails_alone(scans, tiny_settings, tmp_path, case_log):
    out = tmp_path / "out"
    # two workers with two case threads each take three cases at a time: the poison's first worker
    # also holds c0 (running beside it) and c2 (queued behind them)
    names = ["c0", "poison", *(f"c{i}" for i in range(2, 8))]
    cases = [Case(name, scans / f"{name}.nii.gz") for name in names]
    summary = run_batch(cases, out, options=OPTIONS, settings=tiny_settings, workers=2, threads=2, progress=False)

    starts = [line.split() for line in case_log.read_text().splitlines()]
    poison_pids = [pid for pid, name in starts if name == "poison.nii.gz"]
    assert len(poison_pids) == MAX_ATTEMPTS == len(set(poison_pids))  # killed its worker each time, no more
    shared = [name for pid, name in starts if pid == poison_pids[0] and name != "poison.nii.gz"]
    assert shared, "no other case was running when the poison killed its first worker"
    assert all(sum(name == other for _, other in starts) >= 2 for name in shared)  # they ran again elsewhere

    assert (summary.total, summary.ok, summary.failed) == (8, 7, 1)
    ((name, error),) = summary.failures
    assert name == "poison" and f"died (killed by SIGKILL) {MAX_ATTEMPTS} times on this case" in error
    rows = {row["case"]: row for row in pq.read_table(out / "results.parquet").to_pylist()}
    assert sorted(rows) == sorted(names)  # one row per case
    assert rows["poison"]["status"] == "error" and rows["poison"]["error"] == error
    assert all(row["status"] == "ok" for case, row in rows.items() if case != "poison"), rows
    folder = BatchFolder(out)
    assert not folder.is_done("poison") and folder.failure_record("poison")["error"] == error

    # every other case, c2 (queued on the first worker) included, holds what segment() writes for it
    expected = [np.asanyarray(totalseg.segment(scans / f"c{i}.nii.gz", quiet=True, settings=tiny_settings,
                                               **OPTIONS).dataobj) for i in range(3)]
    for i in (0, *range(2, 8)):
        got = np.asanyarray(nib.load(out / f"c{i}" / "segmentations.nii.gz").dataobj)
        assert np.array_equal(got, expected[i % 3]), f"c{i}"
