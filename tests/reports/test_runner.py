"""``run_reports``: several reports of one CT, masks reused from a segmentation folder or file, one
report's error recorded while the others run; against the official goldens and a known-answer phantom."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from totalseg.errors import InputError
from totalseg.reports import REPORTS, run_reports
from totalseg.reports.l3_phantom import write_l3_phantom
from totalseg.reports.runner import headline

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def l3(tmp_path):
    return write_l3_phantom(tmp_path / "case")


def test_masks_reused_and_one_reports_error_does_not_stop_the_others(l3, tmp_path):
    out = tmp_path / "reports"
    results = run_reports(l3.ct, out, ["aorta", "body_composition", "spine"], seg_dir=l3.seg_dir, height_m=2.0,
                          download=False)
    assert list(results) == ["aorta", "body_composition", "spine"]
    body = results["body_composition"]
    assert body["status"] == "measured" and body["level"]["slice_index"] == 5
    assert {k: body["measurements"][k]["value"] for k in l3.expected_cm2} == l3.expected_cm2
    assert body["measurements"]["skeletal_muscle_index"]["value"] == round(7.04 / 4, 2)
    assert json.loads((out / "body_composition" / "body_composition.json").read_text()) == body
    assert not (out / "body_composition" / "segmentations").exists()  # nothing segmented: every mask was found
    # the phantom is 12 slices deep: both reports refuse it in one line, as their commands do
    assert "has a side below 20 voxels" in results["aorta"] and "\n" not in results["aorta"]
    assert "outside the official spine report's limits" in results["spine"]
    assert headline("body_composition", body) == {"sma_cm2": 7.04, "smi_cm2_m2": 1.76, "vat_cm2": 15.36,
                                                  "sat_cm2": 28.8, "error": None}
    assert headline("spine", results["spine"]) == {"max_height_loss_percent": None, "worst_genant_grade": None,
                                                   "error": results["spine"]}


def test_a_multilabel_file_of_a_task_is_reused(l3, tmp_path):
    mine = tmp_path / "my_total_seg.nii.gz"
    shutil.move(l3.seg_dir / "total.nii.gz", mine)  # as `totalseg segment --ml -o my_total_seg.nii.gz`
    results = run_reports(l3.ct, tmp_path / "out", ["body_composition"], seg_dir=l3.seg_dir, seg=mine,
                          download=False)
    assert results["body_composition"]["level"]["slice_index"] == 5
    cached = tmp_path / "out" / "body_composition" / "segmentations"
    assert sorted(p.name for p in cached.iterdir()) == ["total.nii.gz"]  # the file, not a model run


def test_official_goldens_through_the_runner(tmp_path):
    """Each report from the official intermediate files, found under the names a segmentation folder has."""
    aorta = DATA / "aorta_report_golden" / "full"
    results = run_reports(aorta / "ct.nii.gz", tmp_path / "a", ["aorta"], seg_dir=aorta / "models")
    official = json.loads((aorta / "official.json").read_text())
    assert json.loads(json.dumps(results["aorta"])) == official
    diameters = [v["diameter"] for v in official["landmarks"].values()] + \
                [v["max_diameter"] for v in official["section_stats"].values()]
    assert headline("aorta", results["aorta"])["max_diameter_mm"] == round(10 * max(d for d in diameters if d), 1)

    pulmonary = DATA / "pulmonary_report_golden" / "full"
    results = run_reports(pulmonary / "ct.nii.gz", tmp_path / "p", ["pulmonary"], seg_dir=pulmonary / "models")
    official = json.loads((pulmonary / "official.json").read_text())["landmarks"]
    assert json.loads(json.dumps(results["pulmonary"]["landmarks"])) == official
    assert headline("pulmonary", results["pulmonary"])["mpa_diameter_mm"] == round(10 * official["1"]["diameter"], 1)

    spine = DATA / "spine_report_golden" / "ras"
    seg = tmp_path / "seg"
    seg.mkdir()
    shutil.copy(spine / "vertebrae.nii.gz", seg / "vertebrae_pp_refined.nii.gz")  # a --ml file of the task
    shutil.copy(spine / "contrast_phase.json", seg / "phase.json")  # as `totalseg batch --phase` names it
    results = run_reports(spine / "ct.nii.gz", tmp_path / "s", ["spine"], seg_dir=seg, download=False)
    official = json.loads((spine / "spine_report.json").read_text())
    assert results["spine"]["results"] == official["results"]
    assert (tmp_path / "s" / "spine" / "spine_report.html").is_file()
    assert headline("spine", results["spine"]) == {"max_height_loss_percent": 25.8, "worst_genant_grade": 2,
                                                   "error": None}  # the wedge at L2


def test_bad_requests_are_refused_in_one_line(l3, tmp_path):
    with pytest.raises(InputError, match="unknown report 'liver'; choose from spine, aorta"):
        run_reports(l3.ct, tmp_path, ["liver"])
    with pytest.raises(InputError, match="unknown report option height_cm"):
        run_reports(l3.ct, tmp_path, ["spine"], height_cm=170)
    with pytest.raises(InputError, match="no such CT"):
        run_reports(tmp_path / "none.nii.gz", tmp_path, ["spine"])
    assert set(REPORTS) == {"spine", "aorta", "pulmonary", "body_composition"}
