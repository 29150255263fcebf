"""The spine report's flow: intermediate files computed only when missing, metadata, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.cli import main
from totalseg.errors import InputError
from totalseg.measure.classifier_files import FOLDER, PHASE_FILE
from totalseg.reports.spine.report import create_spine_report
from totalseg.reports.spine.results import metadata
from totalseg.settings import Settings

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "spine_report_golden"


def test_missing_masks_and_phase_are_computed_once(tmp_path, tiny_weights, make_phantom, monkeypatch):
    import totalseg.api

    weights = tmp_path / "weights"
    weights.mkdir()
    for folder in tiny_weights.iterdir():
        if folder.name != FOLDER:  # another test may have placed classifier files in the shared weights
            (weights / folder.name).symlink_to(folder, target_is_directory=folder.is_dir())
    (weights / FOLDER).mkdir()
    shutil.copyfile(GOLDEN.parent / "phase_golden" / PHASE_FILE.name, weights / FOLDER / PHASE_FILE.name)
    settings = Settings(home_dir=tmp_path, weights_dir=weights)
    runs = []
    real = totalseg.api.segment

    def spy(*args, **kwargs):
        runs.append((kwargs["task"], kwargs.get("ml", False), kwargs.get("fast", False)))
        return real(*args, **kwargs)

    monkeypatch.setattr(totalseg.api, "segment", spy)
    ct = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(make_phantom((48, 40, 30)), np.diag([3.0, 3.0, 3.0, 1.0])), ct)
    seg = tmp_path / "seg"
    first = create_spine_report(ct, tmp_path / "out", seg_dir=seg, settings=settings, download=False)
    assert runs == [("vertebrae_pp_refined", True, False), ("total", False, True)]  # as the official runs
    assert (seg / "totalseg_vertebrae_pp_refined.nii.gz").exists()
    assert json.loads((seg / "contrast_phase.json").read_text())["phase"] in ("native", "arterial_early",
                                                                                "arterial_late", "portal_venous")
    again = create_spine_report(ct, tmp_path / "out2", seg_dir=seg, settings=settings, download=False)
    assert len(runs) == 2 and again.report == first.report  # nothing computed twice


def test_metadata_as_the_official(tmp_path):
    assert metadata() == {"PatientName": "Unknown", "PatientSex": "M", "PatientAge": 99,
                          "PatientBirthDate": "19010101", "PatientID": "Unknown", "StudyID": "Unknown",
                          "StudyDescription": "Unknown", "StudyDate": "20250101", "version": "0.1.0"}
    info = tmp_path / "nodeinfo.json"
    info.write_text(json.dumps({"PatientAge": "", "PatientBirthDate": "19600229", "StudyDate": "20240228"}))
    assert metadata(info)["PatientAge"] == 63
    info.write_text(json.dumps({"PatientSex": "F"}))
    assert metadata(info)["PatientAge"] == 120  # no age, no dates: the official default
    assert metadata(tmp_path / "absent.json")["PatientSex"] == "M"


def test_refusals(tmp_path):
    case = GOLDEN / "ras"
    with pytest.raises(InputError, match="spine range 'neck' is not one of"):
        create_spine_report(case / "ct.nii.gz", tmp_path / "out", seg_dir=case, spine_range="neck")
    seg = tmp_path / "seg"
    seg.mkdir()
    nib.save(nib.Nifti1Image(np.zeros((30, 30, 30), np.uint8), np.eye(4)), seg / "totalseg_vertebrae_pp_refined.nii.gz")
    shutil.copy(case / "contrast_phase.json", seg)
    with pytest.raises(InputError, match=r"grid \(30, 30, 30\) differs from the CT's \(40, 72, 132\)"):
        create_spine_report(case / "ct.nii.gz", tmp_path / "out", seg_dir=seg)
    small = tmp_path / "small.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((10, 40, 40), np.int16), np.eye(4)), small)
    with pytest.raises(InputError, match="outside the official spine report's limits"):
        create_spine_report(small, tmp_path / "out", seg_dir=seg)
    (seg / "contrast_phase.json").write_text("{}")
    assert main(["report", "spine", "-i", str(case / "ct.nii.gz"), "-o", str(tmp_path / "o"),
                 "--seg-dir", str(seg), "-q"]) == 2
    assert not (tmp_path / "o" / "spine_report.json").exists()


def test_masks_without_label_extension_use_the_task_ids(tmp_path):
    case = GOLDEN / "ras"
    seg = tmp_path / "seg"
    seg.mkdir()
    img = nib.load(case / "vertebrae.nii.gz")
    plain = np.asarray(img.dataobj).copy()
    plain[plain == 26] = 0  # S1 is not a vertebrae_pp_refined class
    nib.save(nib.Nifti1Image(plain, img.affine), seg / "totalseg_vertebrae_pp_refined.nii.gz")
    shutil.copy(case / "contrast_phase.json", seg)
    report = create_spine_report(case / "ct.nii.gz", tmp_path / "out", seg_dir=seg)
    official = json.loads((case / "spine_report.json").read_text())["results"]
    ours = report.report["results"]
    assert [k for k in ours if k.startswith("vertebrae_L1")] == [k for k in official if k.startswith("vertebrae_L1")]
    assert ours["vertebrae_L2_height_anterior_mm"] == official["vertebrae_L2_height_anterior_mm"]
