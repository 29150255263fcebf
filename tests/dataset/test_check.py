"""`check` finds missing, truncated, misshaped, misaligned and unexpected files; the rest is clean."""

from __future__ import annotations

import doctest

import nibabel as nib
import numpy as np

import totalseg.dataset.check as check_module
from totalseg.dataset.check import check_dataset
from totalseg.dataset.layout import open_dataset


def damage(root):
    seg = root / "s0001" / "segmentations"
    (seg / "liver.nii.gz").unlink()
    (seg / "spleen.nii.gz").write_bytes((seg / "spleen.nii.gz").read_bytes()[:-25])
    img = nib.load(root / "s0003" / "ct.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros((5, 5, 5), np.uint8), img.affine), root / "s0003/segmentations/aorta.nii.gz")
    img = nib.load(root / "s0004" / "ct.nii.gz")
    shifted = img.affine.copy()
    shifted[0, 3] += 2.0
    nib.save(nib.Nifti1Image(np.zeros(img.shape, np.uint8), shifted), root / "s0004/segmentations/heart.nii.gz")
    (root / "s0005" / "segmentations" / "extra_thing.nii.gz").write_bytes(b"")


def test_check_finds_each_problem(mock_copy):
    damage(mock_copy)
    report = check_dataset(open_dataset(mock_copy), workers=2, progress=False)
    found = {(p.path, p.kind) for p in report.problems}
    assert found == {
        ("s0001/segmentations/liver.nii.gz", "missing"),
        ("s0001/segmentations/spleen.nii.gz", "unreadable"),
        ("s0003/segmentations/aorta.nii.gz", "shape"),
        ("s0004/segmentations/heart.nii.gz", "affine"),
        ("s0005/segmentations/extra_thing.nii.gz", "unexpected"),
    }
    assert report.subjects == 10 and report.files == 10 * 118 - 1
    assert "differs from the image's by up to 2 mm" in str(next(p for p in report.problems if p.kind == "affine"))


def test_quick_check_reads_headers_only(mock_copy):
    damage(mock_copy)
    report = check_dataset(open_dataset(mock_copy), quick=True, workers=1, progress=False)
    assert report.counts() == {"missing": 1, "shape": 1, "affine": 1, "unexpected": 1}  # truncation unseen


def test_clean_dataset_passes(mock_root):
    report = check_dataset(open_dataset(mock_root), workers=1, progress=False)
    assert report.ok and report.files == 1180


def test_docstring_examples():
    assert doctest.testmod(check_module).failed == 0
