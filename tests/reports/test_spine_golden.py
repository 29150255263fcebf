"""``totalseg report spine`` against the official ``totalseg_spine_report`` (goldens written by
benchmarks/spine_report_golden.py with TotalSegmentator 2.18.0 from the same phantom CTs and masks)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.cli import main
from totalseg.reports.spine.overlay import rgb_nifti
from totalseg.reports.spine.report import create_spine_report
from totalseg.reports.spine.results import ADDITIONS_KEY

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "spine_report_golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def _seg_dir(case: Path, tmp_path: Path) -> Path:
    """The official command's intermediate folder: the masks and the phase it would have computed."""
    seg = tmp_path / "seg"
    seg.mkdir()
    shutil.copy(case / "vertebrae.nii.gz", seg / "totalseg_vertebrae_pp_refined.nii.gz")
    shutil.copy(case / "contrast_phase.json", seg / "contrast_phase.json")
    return seg


def _options(case: Path) -> dict:
    args = json.loads((case / "args.json").read_text())
    nodeinfo = case / "nodeinfo.json"
    return {"spine_range": args[1] if args else "all", "nodeinfo": nodeinfo if nodeinfo.exists() else None}


def test_every_case_is_there():
    assert CASES == ["curved", "empty", "lps_arterial", "ras", "ras_lumbar"]


@pytest.mark.parametrize("name", CASES)
def test_json_equals_the_official(name, tmp_path):
    case = GOLDEN / name
    report = create_spine_report(case / "ct.nii.gz", tmp_path / "out", seg_dir=_seg_dir(case, tmp_path),
                                 **_options(case))
    official = json.loads((case / "spine_report.json").read_text())
    ours = json.loads(report.json_path.read_text())
    assert list(ours) == ["results", "metadata", ADDITIONS_KEY]
    assert list(ours["results"]) == list(official["results"])  # same keys in the same order
    assert ours["results"] == official["results"]
    assert ours["metadata"] == official["metadata"]
    for key, value in official["results"].items():
        if key.endswith("_mm"):
            assert abs(ours["results"][key] - value) <= 1.0, key


def test_wedge_is_graded_and_cut_vertebra_explained(tmp_path):
    case = GOLDEN / "ras"
    report = create_spine_report(case / "ct.nii.gz", tmp_path / "out", seg_dir=_seg_dir(case, tmp_path))
    extra = report.report[ADDITIONS_KEY]
    assert extra["genant"]["vertebrae_L2"]["grade"] == 2  # the wedge: 25.8 % measured loss
    assert {g["grade"] for n, g in extra["genant"].items() if n != "vertebrae_L2"} == {0}
    assert extra["not_measured"]["vertebrae_T12"].startswith("not measurable, because it touches the image border")
    assert extra["lumbar_findings"] == {"height_difference_above_0.2": ["L2"], "low_attenuation": ["L4"],
                                        "hu_threshold": 90.25, "found_fracture": True}
    html = report.html_path.read_text()
    assert "T12: not measurable, because it touches the image border" in html and "2 (moderate)" in html
    assert html.count("<img") == 1 + 5 and "L2: sagittal slice x=" in html  # the combined view, one per vertebra
    assert (tmp_path / "out" / "spine_report_sagittal.png").read_bytes()[:4] == b"\x89PNG"


def test_command_line_writes_the_report(tmp_path, capsys):
    case = GOLDEN / "lps_arterial"
    out = tmp_path / "out"
    code = main(["report", "spine", "-i", str(case / "ct.nii.gz"), "-o", str(out), "--seg-dir",
                 str(_seg_dir(case, tmp_path)), "-n", str(case / "nodeinfo.json"), "-d", "cpu"])
    assert code == 0
    assert "5 vertebrae measured, LWS_max 0.26" in capsys.readouterr().out
    ours = json.loads((out / "spine_report.json").read_text())
    official = json.loads((case / "spine_report.json").read_text())
    assert (ours["results"], ours["metadata"]) == (official["results"], official["metadata"])
    assert ours[ADDITIONS_KEY]["lumbar_findings"]["hu_threshold"] == 110.25  # arterial: +20 HU
    img = nib.load(out / "spine_report.nii.gz")
    assert img.get_data_dtype().names == ("R", "G", "B") and img.shape[2] == 1


def test_rgb_nifti_layout_equals_the_official():
    golden = np.load(GOLDEN / "rgb_nifti.npz")
    img = rgb_nifti(golden["picture"])
    data = np.asarray(img.dataobj)
    assert np.array_equal(np.stack([data["R"], data["G"], data["B"]], axis=-1), golden["rgb"])
    assert np.array_equal(img.affine, golden["affine"])
