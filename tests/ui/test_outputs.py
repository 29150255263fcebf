"""Export files and the report, written by the library's writers from a phantom case with known content."""

from __future__ import annotations

import json
import re
import zipfile

import nibabel as nib
import numpy as np
import pytest

from totalseg.errors import InputError
from totalseg.io import load_label_map
from totalseg.measure.clinical import clinical_measurements
from totalseg.measure.statistics import compute_statistics
from totalseg.ui import export
from totalseg.ui.report import build_report, key_images


def test_masks_zip_holds_every_class_as_binary_masks(phantom_case, phantom, tmp_path):
    path = export.masks_zip(phantom_case, tmp_path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert len(names) == 117 and "segmentations/liver.nii.gz" in names
        zf.extract("segmentations/liver.nii.gz", tmp_path / "out")
    liver = np.asanyarray(nib.load(tmp_path / "out" / "segmentations" / "liver.nii.gz").dataobj)
    assert liver.dtype == np.uint8 and liver.sum() == 9600 and liver[phantom.liver_box].all()


def test_multilabel_file_round_trips_labels_and_names(phantom_case, tmp_path):
    img = nib.load(export.multilabel_file(phantom_case, tmp_path))
    assert np.array_equal(np.asanyarray(img.dataobj), phantom_case.labels.array)
    assert load_label_map(img)[5] == "liver"


def test_json_files_are_the_library_results(phantom_case, tmp_path):
    stats = compute_statistics(phantom_case.image, phantom_case.labels, phantom_case.classes)
    written = json.loads(export.statistics_file(stats, tmp_path).read_text())
    assert written["liver"] == {"volume": 1200000.0, "intensity": 60.0} and len(written) == 117
    findings = clinical_measurements(phantom_case.image, phantom_case.labels, phantom_case.classes)
    clinical = json.loads(export.clinical_file(findings, tmp_path).read_text())
    assert clinical["measurements"]["liver_volume"]["value"] == 1200.0


def test_dicom_outputs_need_a_dicom_input(phantom_case, tmp_path):
    with pytest.raises(InputError, match="need a DICOM input"):
        export.dicom_seg_file(phantom_case, tmp_path)
    with pytest.raises(InputError, match="need a DICOM input"):
        export.rtstruct_file(phantom_case, tmp_path)


def test_report_is_one_self_contained_page(phantom_case):
    stats = compute_statistics(phantom_case.image, phantom_case.labels, phantom_case.classes)
    findings = clinical_measurements(phantom_case.image, phantom_case.labels, phantom_case.classes)
    page = build_report(phantom_case, stats, findings)
    assert page.startswith("<!DOCTYPE html>") and len(re.findall(r'src="data:image/png;base64,', page)) == 3
    assert "<td>liver</td><td>1200.0</td><td>60.0</td>" in page
    assert "Liver volume 1200 mL, within 843-1719 mL." in page and "not a diagnosis" in page
    assert "<td> mL</td>" in page and "<td>None" not in page and "<td>nan" not in page  # unmeasured: blank


def test_key_images_cut_through_the_segmentation(phantom_case):
    import io

    from PIL import Image

    pngs = key_images(phantom_case)
    axial = np.asarray(Image.open(io.BytesIO(pngs["axial"])))
    assert axial.shape[1] == 300 and axial.shape[2] == 3
    assert (axial[..., 0] != axial[..., 1]).any()  # coloured overlay pixels, not only grey
