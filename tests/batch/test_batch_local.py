"""The local batch runner end to end: good cases with a corrupt one, resume after a kill, guards."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import nibabel as nib
import numpy as np
import pyarrow.parquet as pq
import pytest

import totalseg
from totalseg.batch import Case, cases_from_csv, cases_from_paths, run_batch
from totalseg.batch.folder import BatchFolder
from totalseg.batch.local import run_in_workers
from totalseg.batch.run import segment_options_with_defaults
from totalseg.batch.runner import SegmentJob
from totalseg.engine.predictor import network_clock
from totalseg.errors import InputError, OutputError
from totalseg.models.model import Model, clear_model_cache
from totalseg.settings import Settings

OPTIONS = {"fastest": True, "ml": True, "device": "cpu"}


@pytest.fixture(scope="module")
def scans(tmp_path_factory, make_phantom):
    """Four small CT phantoms (3 mm voxels) and one corrupt file."""
    folder = tmp_path_factory.mktemp("scans")
    for i in range(4):
        img = nib.Nifti1Image(make_phantom((40, 36, 24), seed=i), np.diag([3.0, 3.0, 3.0, 1.0]))
        nib.save(img, folder / f"p{i}.nii.gz")
    (folder / "broken.nii.gz").write_bytes((folder / "p0.nii.gz").read_bytes()[:300])
    return folder


def labels(path):
    return np.asanyarray(nib.load(path).dataobj)


def test_good_and_corrupt_cases(scans, tiny_settings, tmp_path, monkeypatch):
    clear_model_cache()
    loads = []
    real_from_folder = Model.from_folder.__func__
    monkeypatch.setattr(Model, "from_folder", classmethod(lambda cls, *a, **k: loads.append(a) or
                                                          real_from_folder(cls, *a, **k)))
    out = tmp_path / "out"
    network_before = network_clock.seconds
    summary = run_batch(cases_from_paths([scans]), out, options=OPTIONS, settings=tiny_settings, progress=False)
    network_s = network_clock.seconds - network_before
    assert (summary.total, summary.ok, summary.failed, summary.skipped) == (5, 4, 1, 0)
    assert summary.failures[0][0] == "broken" and "broken.nii.gz" in summary.failures[0][1]
    # every good case holds exactly what segment() writes for that input
    expected = totalseg.segment(scans / "p2.nii.gz", quiet=True, settings=tiny_settings, **OPTIONS)
    assert sorted(p.name for p in (out / "p2").iterdir()) == ["segmentations.nii.gz"]
    assert np.array_equal(labels(out / "p2" / "segmentations.nii.gz"), np.asanyarray(expected.dataobj))
    assert not (out / "broken").exists()
    table = pq.read_table(out / "results.parquet").to_pylist()
    by_case = {row["case"]: row for row in table}
    assert sorted(by_case) == ["broken", "p0", "p1", "p2", "p3"]
    assert by_case["broken"]["status"] == "error" and "broken.nii.gz" in by_case["broken"]["error"]
    ok = by_case["p1"]
    assert ok["status"] == "ok" and ok["error"] is None and ok["input"] == str(scans / "p1.nii.gz")
    assert ok["predict_s"] > 0 and ok["total_s"] >= ok["read_s"] + ok["predict_s"] + ok["write_s"]
    # each case's network seconds are its own (cases predict one at a time) and part of its predict
    assert all(0 < by_case[c]["network_s"] <= by_case[c]["predict_s"] for c in ("p0", "p1", "p2", "p3"))
    assert sum(row["network_s"] or 0 for row in table) == pytest.approx(network_s, abs=1e-3)
    assert len(loads) == 1  # one model, loaded once for all cases
    with open(out / "results.csv", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    assert [r["case"] for r in csv_rows] == [r["case"] for r in table]
    assert csv_rows[0]["status"] == table[0]["status"] and float(csv_rows[1]["total_s"]) == table[1]["total_s"]


def test_statistics_columns(scans, tiny_settings, tmp_path):
    out = tmp_path / "out"
    options = {**OPTIONS, "statistics": True}
    run_batch(cases_from_paths([scans / "p0.nii.gz", scans / "p1.nii.gz"]), out, options=options,
              settings=tiny_settings, progress=False)
    row = {r["case"]: r for r in pq.read_table(out / "results.parquet").to_pylist()}["p1"]
    stats = json.loads((out / "p1" / "statistics.json").read_text())
    assert len(stats) == 117
    for name, values in stats.items():
        assert row[f"{name}_volume_mm3"] == pytest.approx(values["volume"])
        assert row[f"{name}_intensity"] == pytest.approx(values["intensity"])


def test_kill_and_resume(scans, tiny_weights, tmp_path):
    """SIGKILL a run after its first finished case; no case folder is half-written and the next run
    finishes only the rest."""
    out = tmp_path / "out"
    inputs = [str(scans / f"p{i % 4}.nii.gz") for i in range(4)]
    listing = tmp_path / "list.csv"
    listing.write_text("case,input\n" + "".join(f"c{i},{inputs[i % 4]}\n" for i in range(8)))
    env = {**os.environ, "TOTALSEG_WEIGHTS_PATH": str(tiny_weights), "TOTALSEG_HOME_DIR": str(tiny_weights.parent)}
    cmd = [sys.executable, "-m", "totalseg", "batch", "--list", str(listing), "-o", str(out), "-ff", "-ml",
           "-d", "cpu", "-q"]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    markers = out / ".totalseg-batch" / "done"
    deadline = time.monotonic() + 120
    while not (markers.is_dir() and any(markers.iterdir())) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the batch ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    folder = BatchFolder(out)
    done_before = {p.stem: p.stat().st_mtime_ns for p in markers.iterdir()}
    assert 1 <= len(done_before) < 8
    for case_dir in (p for p in out.iterdir() if p.name.startswith("c")):
        assert labels(case_dir / "segmentations.nii.gz").shape == (40, 36, 24)  # complete, or absent
    settings = Settings(home_dir=tiny_weights.parent, weights_dir=tiny_weights)
    summary = run_batch(cases_from_csv(listing), out, options=OPTIONS, settings=settings, progress=False)
    assert (summary.ok, summary.failed, summary.skipped) == (8, 0, len(done_before))
    assert {p.stem: p.stat().st_mtime_ns for p in markers.iterdir() if p.stem in done_before} == done_before
    assert all(folder.is_done(f"c{i}") for i in range(8))
    assert len(pq.read_table(out / "results.parquet")) == 8
    assert not (out / ".totalseg-batch" / "staging").exists()


def test_resume_refuses_other_options_and_a_second_run(scans, tiny_settings, tmp_path):
    out = tmp_path / "out"
    cases = cases_from_paths([scans / "p0.nii.gz"])
    run_batch(cases, out, options=OPTIONS, settings=tiny_settings, progress=False)
    with pytest.raises(InputError, match="other segment options.*fastest"):
        run_batch(cases, out, options={**OPTIONS, "fastest": False, "fast": True}, settings=tiny_settings,
                  progress=False)
    run_batch(cases, out, options={**OPTIONS, "download": False}, settings=tiny_settings, progress=False)
    stored = json.loads((out / ".totalseg-batch" / "options.json").read_text())
    with BatchFolder(out).open(stored), \
            pytest.raises(OutputError, match="another totalseg batch"):
        run_batch(cases, out, options=OPTIONS, settings=tiny_settings, progress=False)


def test_cli_exit_codes(scans, tiny_weights, tmp_path, monkeypatch, capsys):
    from totalseg.cli import main

    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tiny_weights))
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tiny_weights.parent))
    args = ["batch", "-o", str(tmp_path / "out"), "-ff", "-ml", "-d", "cpu", "-q"]
    assert main([*args, str(scans / "p0.nii.gz")]) == 0
    assert main([*args, str(scans / "p0.nii.gz"), str(scans / "broken.nii.gz")]) == 1
    assert main(args) == 2
    assert "either INPUT paths or --list" in capsys.readouterr().err


def test_worker_processes_survive_a_killed_worker(scans, tiny_settings, tmp_path):
    """Two worker processes; one is SIGKILLed while it holds cases: they go to a new worker."""
    import psutil

    out = tmp_path / "out"
    cases = [Case(f"c{i}", scans / f"p{i % 4}.nii.gz") for i in range(6)]
    killed = []

    def kill_a_worker(result):
        if not killed:
            # a worker, not multiprocessing's resource tracker (also a child, and the first one)
            worker = next(p for p in psutil.Process().children() if "spawn_main" in " ".join(p.cmdline()))
            killed.append(worker.pid)
            worker.kill()

    job = SegmentJob(out, segment_options_with_defaults(OPTIONS), tiny_settings, torch_threads=1)
    BatchFolder(out).open(job.options).release()
    results = []
    run_in_workers(job, cases, lambda r: (kill_a_worker(r), results.append(r)), workers=2)
    assert killed and sorted(r.case for r in results) == [c.name for c in cases]
    assert all(r.status == "ok" for r in results), [r.error for r in results]
    assert {r.worker.split(":")[1] for r in results} - {str(killed[0])}  # others finished the run
    assert all(BatchFolder(out).is_done(c.name) for c in cases)
