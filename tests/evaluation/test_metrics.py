"""Dice against hand-computed values; NSD against DeepMind's surface-distance library on whole images."""

from __future__ import annotations

import math

import numpy as np
import pytest

from totalseg.evaluation.metrics import dice, label_metrics, normalized_surface_dice


def cube(shape=(12, 12, 12), start=(2, 2, 2), size=4) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[tuple(slice(s, s + size) for s in start)] = True
    return mask


def test_dice_of_shifted_cube():
    # 4^3 cubes overlapping on 3 of 4 slabs: 2 * 48 / (64 + 64)
    assert dice(cube(), cube(start=(3, 2, 2))) == pytest.approx(0.75)


def deepmind_nsd(gt, pred, spacing, tolerance) -> float:
    """The reference: DeepMind's surface-distance library on the whole (uncropped) masks."""
    import surface_distance

    return surface_distance.compute_surface_dice_at_tolerance(
        surface_distance.compute_surface_distances(gt, pred, tuple(float(s) for s in spacing)), tolerance)


def _random_blob(rng, shape) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_opening(ndimage.gaussian_filter(rng.random(shape), 2) > 0.52)


@pytest.mark.parametrize("spacing", [(1, 1, 1), (2, 1, 1), (0.8, 0.8, 3.0), (1.5, 0.7, 2.2)])
@pytest.mark.parametrize("tolerance", [0.5, 1.0, 1.5, 3.0])
def test_nsd_is_deepminds_surfel_weighted_nsd(spacing, tolerance):
    """Surfel-weighted, as the published TotalSegmentator numbers: checked against the library run on
    the whole image (ours crops to the structures), on cubes, blobs and masks that touch the border."""
    rng = np.random.default_rng(7)
    shape = (24, 22, 20)
    pairs = [(cube(), cube(start=(3, 2, 2))), (cube(), cube(start=(2, 3, 4), size=5)),
             (_random_blob(rng, shape), _random_blob(rng, shape)), (cube(start=(0, 0, 0), size=6), cube(size=6))]
    for gt, pred in pairs:
        expected = deepmind_nsd(gt, pred, spacing, tolerance)
        assert normalized_surface_dice(gt, pred, spacing_mm=spacing, tolerance_mm=tolerance) == pytest.approx(
            expected, abs=1e-12)
    assert 0 < deepmind_nsd(*pairs[0], spacing, 0.5) < 1  # the cases are not all trivial


def test_nsd_of_a_shifted_cube_weighs_surfaces_by_area():
    """A 4^3 cube shifted by one voxel: below a voxel, the coinciding faces' area over the total
    (the library's surfels), not a count of border voxels; at one voxel everything is within."""
    a, b = cube(), cube(start=(3, 2, 2))
    assert normalized_surface_dice(a, b, spacing_mm=(1, 1, 1), tolerance_mm=0.5) == pytest.approx(
        deepmind_nsd(a, b, (1, 1, 1), 0.5))
    assert normalized_surface_dice(a, b, spacing_mm=(1, 1, 1), tolerance_mm=1.0) == 1.0


def test_nsd_far_apart_is_zero_and_identical_is_one():
    a = cube(shape=(30, 12, 12))
    far = cube(shape=(30, 12, 12), start=(20, 2, 2))
    assert normalized_surface_dice(a, far, spacing_mm=(1, 1, 1), tolerance_mm=3.0) == 0.0
    assert normalized_surface_dice(a, a, spacing_mm=(1, 1, 1), tolerance_mm=0.0) == 1.0


def test_single_voxel_masks_two_voxels_apart():
    a = np.zeros((5, 5, 5), bool)
    b = a.copy()
    a[1, 2, 2] = b[3, 2, 2] = True
    assert dice(a, b) == 0.0
    for spacing in ((1.0, 1, 1), (1.5, 1, 1), (2.0, 1, 1)):
        assert normalized_surface_dice(a, b, spacing_mm=spacing, tolerance_mm=3.0) == pytest.approx(
            deepmind_nsd(a, b, spacing, 3.0))


def test_nan_rules():
    empty, a = np.zeros((6, 6, 6), bool), cube(shape=(6, 6, 6), start=(1, 1, 1), size=2)
    assert math.isnan(dice(empty, a)) and math.isnan(normalized_surface_dice(empty, a, spacing_mm=(1, 1, 1)))
    assert math.isnan(dice(empty, empty))
    assert dice(a, empty) == 0.0 and normalized_surface_dice(a, empty, spacing_mm=(1, 1, 1)) == 0.0


def test_label_metrics_equal_per_class_binary_metrics():
    rng = np.random.default_rng(0)
    gt = np.zeros((20, 18, 16), np.uint8)
    gt[2:9, 3:10, 2:8] = 1
    gt[10:17, 5:15, 6:14] = 2
    gt[0:3, 0:3, 12:16] = 4  # touches the image border
    pred = gt.copy()
    pred[rng.random(gt.shape) < 0.05] = 0
    pred[4:7, 4:7, 9:12] = 3  # predicted but absent from the ground truth
    pred[pred == 4] = 0  # present in the ground truth, not predicted
    spacing = (1.5, 0.8, 2.0)
    result = label_metrics(gt, pred, class_ids=[1, 2, 3, 4], spacing_mm=spacing, tolerance_mm=1.0)
    for c in (1, 2):
        assert result[c][0] == pytest.approx(dice(gt == c, pred == c))
        assert result[c][1] == pytest.approx(normalized_surface_dice(gt == c, pred == c, spacing_mm=spacing,
                                                                     tolerance_mm=1.0))
        assert 0.8 < result[c][0] < 1.0
    assert all(math.isnan(v) for v in result[3])
    assert result[4] == (0.0, 0.0)


def test_label_metrics_refuses_different_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        label_metrics(np.zeros((2, 2, 2), np.uint8), np.zeros((2, 2, 3), np.uint8), class_ids=[1], spacing_mm=(1, 1, 1))
