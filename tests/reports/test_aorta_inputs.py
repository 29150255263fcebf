"""The aorta report's inputs: mask folders, metadata, refusals, our total run and its crop."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.errors import InputError
from totalseg.reports.aorta import segmentation
from totalseg.reports.aorta.definitions import REPORT_VERSION, TOTAL_ROIS
from totalseg.reports.aorta.inputs import reference_grid
from totalseg.reports.aorta.sources import masks_from_folder, phase_from_folder
from totalseg.reports.nodeinfo import check_ct_shape, report_metadata


def _mask(shape=(30, 30, 30), affine=None) -> nib.Nifti1Image:
    data = np.zeros(shape, np.uint8)
    data[10:20, 10:20, 5:25] = 1
    return nib.Nifti1Image(data, np.diag([1.6, 1.6, 1.6, 1]) if affine is None else affine)


def test_folder_masks_accept_the_old_brachiocephalic_name(tmp_path):
    nib.save(_mask(), tmp_path / "aorta.nii.gz")
    nib.save(_mask(), tmp_path / "brachiocephalic_trunc.nii.gz")
    assert sorted(masks_from_folder(tmp_path)) == ["aorta", "brachiocephalic_trunk"]


def test_phase_file(tmp_path):
    assert phase_from_folder(tmp_path) is None
    (tmp_path / "contrast_phase.json").write_text(json.dumps({"phase": "native", "pi_time": 0}))
    assert phase_from_folder(tmp_path) == "native"
    (tmp_path / "contrast_phase.json").write_text("{}")
    with pytest.raises(InputError, match="not a contrast phase result"):
        phase_from_folder(tmp_path)


def test_metadata_from_nodeinfo(tmp_path):
    info = tmp_path / "nodeinfo.json"
    info.write_text(json.dumps({"PatientsAge": "063Y", "PatientsSex": "F", "StudyDate": "20240101"}))
    meta = report_metadata(info, version=REPORT_VERSION)
    assert meta["PatientAge"] == 63 and meta["PatientSex"] == "F" and "PatientsSex" not in meta
    assert meta["version"] == "0.1.2"
    info.write_text(json.dumps({"PatientAge": "012W"}))
    with pytest.raises(InputError, match="in weeks"):
        report_metadata(info, version=REPORT_VERSION)
    info.write_text(json.dumps({"PatientAge": "003Y"}))
    with pytest.raises(InputError, match="outside 5-150"):
        report_metadata(info, version=REPORT_VERSION)
    assert report_metadata(tmp_path / "absent.json", version=REPORT_VERSION)["PatientAge"] == 83


def test_image_shape_refusals():
    check_ct_shape((512, 512, 300), "ct")
    for shape, words in (((512, 512), "not 3-D"), ((1600, 512, 300), "above 1500"), ((512, 512, 19), "below 20")):
        with pytest.raises(InputError, match=words):
            check_ct_shape(shape, "ct")


def test_reference_grid_is_the_aorta_box_plus_20_mm_at_0_8_mm():
    aorta = _mask()
    grid, annulus = reference_grid(aorta, None)
    assert np.allclose(grid.header.get_zooms(), 0.8)
    # aorta voxels 10..19 (1.6 mm) plus 12 voxels (int(20 / 1.6)) each side, clipped: 0..30 -> 60 voxels of 0.8 mm
    assert grid.shape == (60, 60, 60) and not annulus.any()
    with_annulus, data = reference_grid(aorta, _mask())
    assert with_annulus.shape == grid.shape and np.allclose(with_annulus.affine, grid.affine) and data.any()


def test_our_total_run_crops_and_resamples_like_the_official_report(tmp_path, monkeypatch):
    ct = np.full((40, 40, 40), -100, np.int16)
    nib.save(nib.Nifti1Image(ct, np.diag([2.0, 2.0, 2.0, 1])), tmp_path / "ct.nii.gz")
    calls = []

    def fake_segment(input, output, *, task, fast=False, roi_subset=None, device="cpu", quiet=True, settings=None,
                     download=True):
        calls.append((Path(input).name, task, fast, list(roi_subset)))
        image = nib.load(input)
        for name in roi_subset:
            data = np.zeros(image.shape, np.uint8)
            if name == "aorta":
                centre = np.array(image.shape) // 2
                data[tuple(slice(c - 2, c + 2) for c in centre)] = 1
            nib.save(nib.Nifti1Image(data, image.affine), Path(output) / f"{name}.nii.gz")

    monkeypatch.setattr("totalseg.api.segment", fake_segment)
    cropped = segmentation.segment_total(tmp_path / "ct.nii.gz", tmp_path / "models")
    assert calls == [("ct.nii.gz", "total", True, ["aorta", "heart"]),
                     ("ct_cropped.nii.gz", "total", False, list(TOTAL_ROIS))]
    image = nib.load(cropped)
    assert image.get_data_dtype() == np.int16 and np.allclose(image.header.get_zooms(), 0.8)
    # aorta voxels 18..21 plus 10 voxels (20 mm / 2 mm) each side = 24 voxels of 2 mm -> 60 of 0.8 mm
    assert image.shape == (60, 60, 60)
    assert (tmp_path / "models" / "aorta.nii.gz").is_file()


def test_reference_grid_from_masks_on_different_grids_is_the_official_one():
    import hashlib

    folder = Path(__file__).resolve().parents[1] / "data" / "aorta_report_golden" / "grid"
    official = json.loads((folder / "grid.json").read_text())
    grid, annulus = reference_grid(nib.load(folder / "aorta.nii.gz"), nib.load(folder / "annulus_proper.nii.gz"))
    assert list(grid.shape) == official["shape"]
    assert np.array_equal(grid.affine, np.array(official["affine"]))
    assert [float(z) for z in grid.header.get_zooms()] == official["zooms"]
    data = annulus.astype(np.uint8)
    assert int(data.sum()) == official["annulus_voxels"]
    assert hashlib.sha1(np.ascontiguousarray(data).tobytes()).hexdigest() == official["annulus_sha1"]
