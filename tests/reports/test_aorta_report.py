"""Known answers of the whole aorta report on phantoms, its errors and its command."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.cli import main
from totalseg.errors import InputError
from totalseg.reports.aorta.phantom import straight_tube
from totalseg.reports.aorta.report import aorta_report

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "aorta_report_golden"


@pytest.mark.parametrize("diameter_mm", [16, 30])
def test_tube_diameter_is_the_design_diameter_plus_the_official_dilation(diameter_mm):
    report = aorta_report(straight_tube(diameter_mm=diameter_mm))
    for number in ("9", "11"):
        landmark = report.json["landmarks"][number]
        # the official cut is dilated by one 0.8 mm voxel each side and measured between voxel centres
        assert diameter_mm + 0.5 <= landmark["diameter"] * 10 <= diameter_mm + 3
        assert landmark["diameter_pd"] <= landmark["diameter"]
        assert landmark["diameter_fl"] == 0.0 and landmark["area_fl"] == 0.0
        area_cm2 = np.pi * (diameter_mm / 20 + 0.08) ** 2
        assert landmark["area"] == pytest.approx(area_cm2, rel=0.12)
    abdominal = report.json["section_stats"]["aorta_abdominal"]
    assert abdominal["max_diameter"] == pytest.approx(report.json["landmarks"]["9"]["diameter"], abs=0.11)


def test_missing_models_are_reported_as_not_measurable():
    report = aorta_report(straight_tube(diameter_mm=20))
    assert set(report.not_measurable) >= {"1", "2", "3", "4", "5", "6", "7", "8", "10", "aorta_arch", "lumen"}
    assert "9" not in report.not_measurable and "11" not in report.not_measurable
    assert "'aorta_annulus' model" in report.not_measurable["3"]
    assert report.json["landmarks"]["5"] == {"name": "distal asc. aorta"} | dict.fromkeys(
        ("area", "area_fl", "area_tl", "diameter", "diameter_fl", "diameter_tl", "diameter_pd", "diameter_fl_pd",
         "diameter_tl_pd", "start", "end", "start_pd", "end_pd"))


def test_a_t12_cut_off_by_the_field_of_view_is_named():
    masks = straight_tube(diameter_mm=20)
    t12 = masks["vertebrae_T12"]
    small = np.zeros(t12.shape, np.uint8)
    small[np.nonzero(np.asarray(t12.dataobj))[0][0], np.nonzero(np.asarray(t12.dataobj))[1][0], 50] = 1
    masks["vertebrae_T12"] = nib.Nifti1Image(small, t12.affine)
    report = aorta_report(masks)
    assert "smaller than 200 mm^3" in report.not_measurable["9"]
    assert report.json["landmarks"]["9"]["diameter"] is None


def test_without_or_with_an_empty_aorta_it_says_what_to_pass():
    masks = straight_tube(diameter_mm=20)
    with pytest.raises(InputError, match="no aorta mask"):
        aorta_report({k: v for k, v in masks.items() if k != "aorta"})
    empty = nib.Nifti1Image(np.zeros(masks["aorta"].shape, np.uint8), masks["aorta"].affine)
    with pytest.raises(InputError, match="aorta mask is empty"):
        aorta_report(masks | {"aorta": empty})


def test_native_phase_ignores_the_lumen_masks():
    models = GOLDEN / "dissection" / "models"
    from totalseg.reports.aorta.sources import masks_from_folder

    report = aorta_report(masks_from_folder(models), phase="native")
    assert "native" in report.not_measurable["lumen"]
    assert report.json["section_stats"]["aorta_descending"]["volume_false_lumen"] == 0.0


def test_command_writes_the_official_json_a_page_and_the_reasons(tmp_path, capsys):
    case = GOLDEN / "partial"
    code = main(["report", "aorta", "-i", str(case / "ct.nii.gz"), "-o", str(tmp_path), "--seg-dir",
                 str(case / "models")])
    assert code == 0
    assert json.loads((tmp_path / "aorta_report.json").read_text()) == json.loads((case / "official.json").read_text())
    reasons = json.loads((tmp_path / "not_measurable.json").read_text())
    assert "brachiocephalic_trunk" in reasons["5"]
    page = (tmp_path / "aorta_report.html").read_text()
    assert "not measurable, because" in page and page.count("data:image/png;base64") == 1 + 5
    assert "not measurable" in capsys.readouterr().out


def test_command_with_a_total_segmentation_file(tmp_path):
    case = GOLDEN / "full" / "models"
    from totalseg.anatomy.class_maps import class_map

    ids = {name: i for i, name in class_map("total").items()}
    first = nib.load(case / "aorta.nii.gz")
    labels = np.zeros(first.shape, np.uint8)
    for name in ("aorta", "brachiocephalic_trunk", "subclavian_artery_left", "vertebrae_T12", "iliac_artery_right"):
        labels[np.asarray(nib.load(case / f"{name}.nii.gz").dataobj) > 0] = ids[name]
    nib.save(nib.Nifti1Image(labels, first.affine), tmp_path / "total.nii.gz")
    code = main(["report", "aorta", "-i", str(GOLDEN / "full" / "ct.nii.gz"), "-o", str(tmp_path / "out"),
                 "--seg", str(tmp_path / "total.nii.gz"), "-q"])
    assert code == 0
    ours = json.loads((tmp_path / "out" / "aorta_report.json").read_text())
    official = json.loads((GOLDEN / "full" / "official.json").read_text())
    assert ours["landmarks"]["7"]["start"] == official["landmarks"]["7"]["start"]
    assert ours["landmarks"]["7"]["diameter"] == official["landmarks"]["7"]["diameter"]
    assert ours["landmarks"]["1"]["diameter"] is None


def test_command_refuses_a_missing_ct(tmp_path, capsys):
    code = main(["report", "aorta", "-i", str(tmp_path / "none.nii.gz"), "-o", str(tmp_path), "--seg-dir",
                 str(tmp_path)])
    assert code == 2
    assert "no such CT file" in capsys.readouterr().err
