"""`totalseg batch --reports`: each case's clinical reports in <case>/reports/<name>/ and their headline
numbers as columns of the results table; patient data from the case list."""

from __future__ import annotations

import functools
import json

import nibabel as nib
import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import totalseg.api
from totalseg.anatomy.class_maps import class_map
from totalseg.batch import Case, cases_from_csv, run_batch
from totalseg.cli import main
from totalseg.errors import InputError
from totalseg.io import add_label_map_to_nifti
from totalseg.reports.l3_phantom import write_l3_phantom


@pytest.fixture
def l3(tmp_path):
    return write_l3_phantom(tmp_path / "phantom")


@pytest.fixture
def phantom_segment(l3, monkeypatch):
    """``totalseg.segment`` answering every task with the phantom's own masks (its known answers)."""

    @functools.wraps(totalseg.api.segment)  # the same signature: the batch checks its options against it
    def segment(input, output=None, *, task=None, ml=False, **kwargs):
        task = task or "total"
        img = nib.load(l3.seg_dir / f"{task}.nii.gz")
        labelled = add_label_map_to_nifti(img, class_map(task))
        if output is not None and ml:
            nib.save(labelled, output)
        elif output is not None:
            output.mkdir(parents=True, exist_ok=True)
            data = np.asanyarray(img.dataobj)
            for label, name in class_map(task).items():
                nib.save(nib.Nifti1Image((data == label).astype(np.uint8), img.affine), output / f"{name}.nii.gz")
        return labelled

    monkeypatch.setattr(totalseg.api, "segment", segment)


def test_headline_columns_hold_the_reports_numbers(l3, phantom_segment, tiny_settings, tmp_path):
    listing = tmp_path / "cases.csv"
    listing.write_text(f"case,input,height_m,sex\na,{l3.ct},2.0,male\nb,{l3.ct},,\n")
    cases = cases_from_csv(listing)
    assert [c.patient for c in cases] == [{"height_m": 2.0, "sex": "male"}, {}]
    out = tmp_path / "out"
    summary = run_batch(cases, out, options={"device": "cpu"}, settings=tiny_settings, progress=False,
                        reports=["body_composition", "aorta"])
    assert (summary.ok, summary.failed) == (2, 0)
    rows = {r["case"]: r for r in pq.read_table(out / "results.parquet").to_pylist()}
    for name, smi in (("a", 1.76), ("b", None)):  # 7.04 cm2 / (2.0 m)^2; no height, no index
        row = rows[name]
        assert (row["body_composition_sma_cm2"], row["body_composition_vat_cm2"], row["body_composition_sat_cm2"]) \
            == (7.04, 15.36, 28.8)
        assert row["body_composition_smi_cm2_m2"] == smi and row["body_composition_error"] is None
        assert row["aorta_max_diameter_mm"] is None and "side below 20 voxels" in row["aorta_error"]
        written = json.loads((out / name / "reports" / "body_composition" / "body_composition.json").read_text())
        assert written["measurements"]["skeletal_muscle_area"]["value"] == 7.04
        assert written["patient"]["sex"] == ("male" if name == "a" else None)
    csv = pacsv.read_csv(out / "results.csv").to_pylist()
    assert [r["body_composition_sma_cm2"] for r in csv] == [7.04, 7.04]


def test_a_real_run_on_tiny_weights(l3, tiny_settings, tmp_path):
    out = tmp_path / "out"
    summary = run_batch([Case("a", l3.ct)], out, options={"fastest": True, "ml": True, "device": "cpu",
                                                          "download": False},
                        settings=tiny_settings, progress=False, reports=["body_composition"])
    assert summary.ok == 1
    row = pq.read_table(out / "results.parquet").to_pylist()[0]
    report = json.loads((out / "a" / "reports" / "body_composition" / "body_composition.json").read_text())
    values = {k: v["value"] for k, v in report["measurements"].items()}
    assert row["body_composition_sma_cm2"] == values.get("skeletal_muscle_area")
    assert row["body_composition_vat_cm2"] == values.get("visceral_fat_area")
    assert row["body_composition_error"] is None
    # the case's multilabel total file was reused, the other open tasks segmented once
    cached = sorted(p.name for p in (out / "a" / "reports" / "body_composition" / "segmentations").iterdir())
    assert cached == ["abdominal_muscles.nii.gz", "body.nii.gz", "total.nii.gz", "trunk_cavities.nii.gz"]


def test_bad_requests_are_refused_before_any_case(l3, tmp_path, capsys):
    with pytest.raises(InputError, match="unknown report 'liver'"):
        run_batch([Case("a", l3.ct)], tmp_path / "o", reports=["liver"], progress=False)
    code = main(["batch", str(l3.ct), "-o", str(tmp_path / "o2"), "-ta", "total_mr", "--reports", "spine"])
    assert code == 2 and "--reports measure CTs" in capsys.readouterr().err
    listing = tmp_path / "bad.csv"
    listing.write_text(f"input,height_m\n{l3.ct},tall\n")
    with pytest.raises(InputError, match="line 2: height_m 'tall' is not a number"):
        cases_from_csv(listing)
