"""`totalseg batch --phase --modality`: the per-case measures of `totalseg phase` and `totalseg modality`
as columns of the results table and JSON files in each case's folder."""

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from totalseg.batch import Case, run_batch
from totalseg.errors import InputError
from totalseg.measure.modality import get_modality
from totalseg.measure.phase import get_phase

OFFICIAL_FILES = Path(__file__).resolve().parents[1] / "data" / "phase_golden"


@pytest.fixture(scope="module")
def settings_with_classifiers(tiny_settings):
    """The tiny weights with the official classifier files in place (no download in tests)."""
    folder = tiny_settings.weights_dir / "classifiers"
    folder.mkdir(exist_ok=True)
    for path in OFFICIAL_FILES.iterdir():
        if path.name.startswith(("contrast_phase", "modality_classifiers")):
            shutil.copy(path, folder / path.name)
    return tiny_settings


def test_phase_and_modality_columns(settings_with_classifiers, ct_small_path, tmp_path):
    out = tmp_path / "out"
    cases = [Case("a", ct_small_path), Case("b", ct_small_path)]
    summary = run_batch(cases, out, options={"fastest": True, "ml": True, "device": "cpu"},
                        settings=settings_with_classifiers, measures=["phase", "modality"], progress=False)
    assert (summary.ok, summary.failed) == (2, 0)
    rows = {r["case"]: r for r in pq.read_table(out / "results.parquet").to_pylist()}
    phase = get_phase(ct_small_path, settings=settings_with_classifiers, device="cpu")
    modality = get_modality(ct_small_path, settings=settings_with_classifiers)
    for name in ("a", "b"):
        row = rows[name]
        assert (row["phase"], row["phase_probability"], row["pi_time"]) == \
            (phase["phase"], phase["probability"], phase["pi_time"])
        assert (row["modality"], row["modality_probability"]) == (modality["modality"], modality["probability"])
        assert json.loads((out / name / "phase.json").read_text()) == phase
        assert json.loads((out / name / "modality.json").read_text()) == modality


def test_unknown_measure_is_refused(tmp_path, ct_small_path):
    with pytest.raises(InputError, match="unknown per-case measure volume"):
        run_batch([Case("a", ct_small_path)], tmp_path / "o", measures=["volume"], progress=False)


def test_qc_columns_and_files(tiny_settings, ct_small_path, tmp_path):
    from totalseg.qc import CHECK_NAMES

    out = tmp_path / "out"
    cases = [Case("a", ct_small_path, {"height_m": 1.8, "weight_kg": 80.0})]
    summary = run_batch(cases, out, options={"fastest": True, "ml": True, "device": "cpu", "qc": True},
                        settings=tiny_settings, progress=False)
    assert (summary.ok, summary.failed) == (1, 0)
    row = pq.read_table(out / "results.parquet").to_pylist()[0]
    qc = json.loads((out / "a" / "qc.json").read_text())
    assert [c["name"] for c in qc["checks"]] == list(CHECK_NAMES)
    assert row["qc_status"] == qc["status"] and qc["status"] in ("ok", "warn", "fail")
    assert all(row[f"qc_{c['name']}"] == c["status"] for c in qc["checks"])
    volumes = next(c for c in qc["checks"] if c["name"] == "volumes")
    assert volumes["evidence"]["body_surface_area_m2"] == 2.0  # the case list's height and weight
