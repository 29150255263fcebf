"""DICOM cases in a batch: a series folder and a zip of it are one case each, beside a NIfTI file."""

import importlib.util
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import totalseg
from totalseg.batch import cases_from_paths, run_batch

pytest.importorskip("pydicom")
OPTIONS = {"fastest": True, "ml": True, "device": "cpu"}


def write_series():
    """The synthetic-series writer of the DICOM reader's tests (one helper, not a copy)."""
    helper = Path(__file__).parents[1] / "io" / "conftest.py"
    spec = importlib.util.spec_from_file_location("dicom_series_helper", helper)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_series


def test_dicom_folder_and_zip_cases(tmp_path, make_phantom, tiny_settings):
    data = make_phantom((40, 36, 24), seed=3)
    affine = np.diag([-3.0, -3.0, 3.0, 1.0])  # axial slices stored LPS, as scanners write them
    write_series()(tmp_path / "study1", data, affine)
    with zipfile.ZipFile(tmp_path / "study2.zip", "w") as archive:
        for file in sorted((tmp_path / "study1").iterdir()):
            archive.write(file, f"study/{file.name}")
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "p0.nii.gz")
    cases = cases_from_paths([tmp_path / "study1", tmp_path / "study2.zip", tmp_path / "p0.nii.gz"])
    assert [c.name for c in cases] == ["study1", "study2", "p0"]

    out = tmp_path / "out"
    summary = run_batch(cases, out, options=OPTIONS, settings=tiny_settings, progress=False)
    assert (summary.ok, summary.failed) == (3, 0), summary.failures
    expected = totalseg.segment(tmp_path / "study1", quiet=True, settings=tiny_settings, **OPTIONS)
    for name in ("study1", "study2"):
        seg = nib.load(out / name / "segmentations.nii.gz")
        assert np.array_equal(np.asanyarray(seg.dataobj), np.asanyarray(expected.dataobj))
        assert np.allclose(seg.affine, expected.affine)
