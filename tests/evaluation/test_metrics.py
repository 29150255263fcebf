"""Dice and NSD against hand-computed values on small known shapes."""

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


def test_nsd_shifted_cube_counts_coinciding_border_voxels():
    # Each cube has 4^3 - 2^3 = 56 border voxels. Shifted by one voxel along x, the borders share
    # 12 voxels on each of the 3 overlapping slabs (36), so below a 1-voxel tolerance
    # NSD = (36 + 36) / (56 + 56); at one voxel every border voxel is within tolerance.
    a, b = cube(), cube(start=(3, 2, 2))
    assert normalized_surface_dice(a, b, spacing_mm=(1, 1, 1), tolerance_mm=0.5) == pytest.approx(72 / 112)
    assert normalized_surface_dice(a, b, spacing_mm=(1, 1, 1), tolerance_mm=1.0) == 1.0


def test_nsd_uses_real_spacing():
    a, b = cube(), cube(start=(3, 2, 2))  # shifted along the 2 mm axis
    # Within 1.5 mm: the 36 coinciding border voxels of each cube, plus the 4 inner voxels of the
    # face inside the other cube (1 mm beside that cube's border ring); the outer face is 2 mm off.
    assert normalized_surface_dice(a, b, spacing_mm=(2, 1, 1), tolerance_mm=1.5) == pytest.approx(80 / 112)
    assert normalized_surface_dice(a, b, spacing_mm=(2, 1, 1), tolerance_mm=0.9) == pytest.approx(72 / 112)
    assert normalized_surface_dice(a, b, spacing_mm=(2, 1, 1), tolerance_mm=2.0) == 1.0
    c = cube(start=(2, 3, 2))  # shifted along a 1 mm axis: 1 mm apart
    assert normalized_surface_dice(a, c, spacing_mm=(2, 1, 1), tolerance_mm=1.0) == 1.0


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
    assert normalized_surface_dice(a, b, spacing_mm=(1.5, 1, 1), tolerance_mm=3.0) == 1.0
    assert normalized_surface_dice(a, b, spacing_mm=(1.6, 1, 1), tolerance_mm=3.0) == 0.0


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
