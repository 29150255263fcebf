"""One-pass NIfTI reading: equal to nibabel, multi-member gzip, truncation, per-slice counts."""

from __future__ import annotations

import doctest
import gzip

import nibabel as nib
import numpy as np
import pytest

import totalseg.dataset.masks as masks_module
from totalseg.dataset.masks import merge_masks, read_nifti, slice_voxel_counts
from totalseg.errors import InputError


@pytest.fixture
def mask_file(tmp_path):
    rng = np.random.default_rng(0)
    array = (rng.random((9, 7, 5)) > 0.8).astype(np.uint8)
    affine = np.diag([0.8, 0.9, 2.5, 1.0])
    path = tmp_path / "m.nii.gz"
    nib.save(nib.Nifti1Image(array, affine), path)
    return path, array, affine


def test_read_nifti_equals_nibabel(mask_file):
    path, array, affine = mask_file
    data = read_nifti(path)
    np.testing.assert_array_equal(data.array, array)
    np.testing.assert_allclose(data.affine, affine)
    assert data.spacing_mm == pytest.approx((0.8, 0.9, 2.5))
    assert data.array.flags.f_contiguous


def test_multi_member_gzip(mask_file, tmp_path):
    path, array, _ = mask_file
    raw = gzip.decompress(path.read_bytes())
    split = tmp_path / "split.nii.gz"
    split.write_bytes(gzip.compress(raw[:200]) + gzip.compress(raw[200:]))  # RFC 1952: several members
    np.testing.assert_array_equal(read_nifti(split).array, array)


def test_truncated_and_garbage_files_name_the_file(mask_file, tmp_path):
    path, _, _ = mask_file
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(InputError, match=r"cut\.nii\.gz: (truncated|corrupt)"):
        read_nifti(cut)
    junk = tmp_path / "junk.nii.gz"
    junk.write_bytes(gzip.compress(b"not a nifti header" * 30))
    with pytest.raises(InputError, match=r"junk\.nii\.gz: not a valid NIfTI"):
        read_nifti(junk)
    with pytest.raises(InputError, match="file not found"):
        read_nifti(tmp_path / "none.nii.gz")


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_slice_voxel_counts(dtype):
    rng = np.random.default_rng(1)
    array = np.asfortranarray((rng.random((6, 5, 8)) > 0.7) * rng.integers(-3, 4, (6, 5, 8))).astype(dtype)
    if dtype == np.uint8:
        array = np.abs(array.astype(np.int16)).astype(np.uint8)
    expected = [np.count_nonzero(array[:, :, k]) for k in range(8)]
    assert slice_voxel_counts(array).tolist() == expected


def test_merge_masks_later_class_wins(tmp_path):
    a = np.zeros((4, 4, 3), np.uint8)
    a[:2] = 1
    b = np.zeros((4, 4, 3), np.uint8)
    b[1:3] = 1
    for name, arr in (("a", a), ("b", b)):
        nib.save(nib.Nifti1Image(arr, np.eye(4)), tmp_path / f"{name}.nii.gz")
    merged = merge_masks(tmp_path, (4, 4, 3), [(1, "a"), (2, "b"), (3, "absent")])
    assert merged[:, 0, 0].tolist() == [1, 2, 2, 0]
    with pytest.raises(InputError, match="differs from the image's"):
        merge_masks(tmp_path, (4, 4, 4), [(1, "a")])


def test_docstring_examples():
    assert doctest.testmod(masks_module).failed == 0
