"""The aorta report against the official ``totalseg_aorta_report`` on hand-made phantoms.

Inputs and the official JSON come from ``benchmarks/aorta_report_golden.py`` (official venv).
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import pytest

from totalseg.reports.aorta.definitions import TOTAL_ROIS
from totalseg.reports.aorta.report import aorta_report
from totalseg.reports.aorta.sources import masks_from_folder, phase_from_folder

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "aorta_report_golden"
DIAMETER_KEYS = ("diameter", "diameter_pd", "diameter_fl", "diameter_fl_pd", "diameter_tl", "diameter_tl_pd")


def _official(case: str) -> dict:
    return json.loads((GOLDEN / case / "official.json").read_text())


def _ours(case: str, *, only_total: bool = False) -> tuple[dict, dict]:
    models = GOLDEN / case / "models"
    masks = masks_from_folder(models)
    if only_total:
        masks = {name: image for name, image in masks.items() if name in TOTAL_ROIS}
    report = aorta_report(masks, ct=nib.load(GOLDEN / case / "ct.nii.gz"), phase=phase_from_folder(models),
                          erosion=case == "eroded")
    return json.loads(json.dumps(report.json)), report.not_measurable


@pytest.mark.parametrize("case", ["full", "dissection", "partial", "eroded", "irregular"])
def test_matches_the_official_report(case):
    official = _official(case)
    ours, _ = _ours(case)
    assert ours.keys() == official.keys()
    assert ours["metadata"] == official["metadata"]
    for number, landmark in official["landmarks"].items():
        assert ours["landmarks"][number].keys() == landmark.keys(), number
        for key in DIAMETER_KEYS:  # the acceptance criterion: within 1 mm
            if landmark[key] is None:
                assert ours["landmarks"][number][key] is None
            else:
                assert ours["landmarks"][number][key] == pytest.approx(landmark[key], abs=0.1 + 1e-9)
    for name, section in official["section_stats"].items():
        assert ours["section_stats"][name].keys() == section.keys(), name
    assert ours == official  # and in fact every number, end point and volume is the official one


def _without_crop_voxels(landmark: dict) -> dict:
    # *_voxel end points are in the landmark's crop, whose size follows the largest landmark diameter
    return {key: value for key, value in landmark.items() if not key.endswith("_voxel")}


def test_total_masks_alone_give_the_official_numbers_where_they_anchor():
    official = _official("full")
    ours, reasons = _ours("full", only_total=True)
    for number in ("5", "6", "7", "8", "9", "11"):
        assert _without_crop_voxels(ours["landmarks"][number]) == _without_crop_voxels(official["landmarks"][number])
    for number in ("1", "2", "3", "4", "10"):
        assert ours["landmarks"][number]["diameter"] is None
        assert "was not given" in reasons[number]
    assert "aorta_annulus" in reasons["1"] and "renal_arteries" in reasons["10"]
    for name in ("aorta_arch", "aorta_descending", "aorta_abdominal"):
        assert ours["section_stats"][name] == official["section_stats"][name]
    assert ours["section_stats"]["aorta_ascending"]["length"] is None
    assert "landmark 1 (annulus)" in reasons["aorta_total"]
