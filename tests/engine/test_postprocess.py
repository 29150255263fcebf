"""Known answers for the connected-component and mask clean-ups (official outputs: test_postprocess_official.py)."""

from __future__ import annotations

import numpy as np
import pytest

from totalseg.engine.postprocess import (
    keep_largest_blob,
    keep_largest_blob_per_label,
    outside_dilation_voxels,
    remove_labels,
    remove_outside_of_mask,
    remove_small_blobs,
    remove_small_blobs_per_label,
)


def line(*values: int) -> np.ndarray:
    """A 1 x 1 x N label map."""
    return np.array([[values]], dtype=np.uint8)


def test_blobs_are_six_connected():
    diagonal = np.zeros((2, 2, 2), bool)
    diagonal[0, 0, 0] = diagonal[1, 1, 0] = diagonal[1, 1, 1] = True
    assert keep_largest_blob(diagonal).sum() == 2  # the diagonal voxel is a blob of its own
    assert remove_small_blobs(diagonal, min_voxels=1).sum() == 2


def test_the_largest_blob_wins_and_a_tie_keeps_the_first_in_scan_order():
    assert keep_largest_blob_per_label(line(1, 0, 1, 1, 0, 2), [1]).tolist() == [[[0, 0, 1, 1, 0, 2]]]
    assert keep_largest_blob_per_label(line(1, 1, 0, 1, 1), [1]).tolist() == [[[1, 1, 0, 0, 0]]]


def test_small_blobs_of_exactly_the_threshold_are_removed():
    labels = line(1, 1, 0, 1, 1, 1, 0, 2)
    assert remove_small_blobs_per_label(labels, [1], min_voxels=2).tolist() == [[[0, 0, 0, 1, 1, 1, 0, 2]]]
    assert remove_small_blobs_per_label(labels, [1, 2], min_voxels=np.float32(1.5)).tolist() == \
        [[[1, 1, 0, 1, 1, 1, 0, 0]]]


def test_per_label_filters_leave_other_labels_and_the_input_alone():
    labels = line(3, 0, 3, 3, 4, 0, 4)
    before = labels.copy()
    out = keep_largest_blob_per_label(labels, [3])
    assert out.tolist() == [[[0, 0, 3, 3, 4, 0, 4]]] and out.dtype == np.uint8
    assert np.array_equal(labels, before)


def test_removed_labels_become_background():
    out = remove_labels(np.array([[[0, 11, 12, 15, 16]]], np.int64), range(12, 16))
    assert out.tolist() == [[[0, 11, 0, 0, 16]]] and out.dtype == np.uint8
    assert remove_labels(line(1, 2), []).tolist() == [[[1, 2]]]


def test_outside_of_the_grown_mask_is_removed():
    labels = line(1, 2, 3, 4, 5, 6, 7)
    mask = line(0, 0, 0, 1, 0, 0, 0)
    assert remove_outside_of_mask(labels, mask, dilation_voxels=1).tolist() == [[[0, 0, 3, 4, 5, 0, 0]]]
    assert remove_outside_of_mask(labels, mask, dilation_voxels=2).tolist() == [[[0, 2, 3, 4, 5, 6, 0]]]


def test_a_margin_below_one_voxel_grows_the_mask_over_the_image_as_scipy_does():
    labels = line(1, 2, 3)
    for margin in (0, -1):
        assert remove_outside_of_mask(labels, line(1, 0, 0), dilation_voxels=margin).tolist() == [[[1, 2, 3]]]
        assert remove_outside_of_mask(labels, line(0, 0, 0), dilation_voxels=margin).tolist() == [[[0, 0, 0]]]


def test_the_margin_in_voxels_truncates_the_float32_quotient():
    assert outside_dilation_voxels(10, (1.0, 1.0, 1.0)) == 10
    assert outside_dilation_voxels(10, (3.0, 3.0, 3.0)) == 3
    assert outside_dilation_voxels(10, (12.0, 12.0, 12.0)) == 0


def test_a_mask_on_another_grid_is_refused():
    with pytest.raises(ValueError, match="mask of shape .* resample the mask"):
        remove_outside_of_mask(line(1, 2), line(1), dilation_voxels=1)
