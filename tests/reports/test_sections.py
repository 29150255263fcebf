"""The shared plane cuts and normals (reports/sections.py)."""

from __future__ import annotations

import numpy as np
import pytest

from totalseg.reports.sections import closest_blob, find_center, mask_normal, plane_cut


@pytest.mark.parametrize("count", [5, 29, 30, 400])  # both of scikit-learn's PCA solvers (below / from 30)
def test_mask_normal_is_the_least_spread_axis_with_its_largest_entry_positive(count):
    rng = np.random.default_rng(count)
    mask = np.zeros((40, 40, 40), np.uint8)
    points = rng.integers(0, 40, size=(count, 3))
    mask[tuple(points.T)] = 1
    normal = mask_normal(mask)
    positions = np.argwhere(mask).astype(float)
    _, vectors = np.linalg.eigh(np.cov(positions.T))
    assert abs(normal @ vectors[:, 0]) == pytest.approx(1, abs=1e-9)
    assert normal[np.argmax(np.abs(normal))] > 0


def test_an_empty_mask_has_no_normal_and_no_centre():
    with pytest.raises(ValueError, match="no foreground"):
        mask_normal(np.zeros((4, 4, 4)))
    assert find_center(np.zeros((4, 4, 4))) is None


def test_plane_cut_keeps_only_the_cut_nearest_the_point():
    vessel = np.zeros((30, 30, 30), np.uint8)
    vessel[5:10, 5:10, :] = 1  # the tube through the point
    vessel[20:25, 20:25, :] = 1  # another tube the plane also cuts
    cut = plane_cut(vessel, (7, 7, 15), np.array([0, 0, 1.0]))
    assert cut[5:10, 5:10, 15].all() and cut[20:25, 20:25].sum() == 0 and cut.dtype == np.uint8


def test_plane_cut_of_a_tube_is_a_thin_slab_through_the_point():
    tube = np.zeros((30, 30, 30), np.uint8)
    tube[5:25, 5:25, :] = 1
    cut = plane_cut(tube, np.array([15, 15, 15.0]), np.array([0, 0, 1.0]))
    zs = np.flatnonzero(cut.any(axis=(0, 1)))
    assert zs.tolist() == [14, 15, 16]  # the one-voxel plane, dilated once
    assert cut[:, :, 15].sum() == 20 * 20 + 4 * 20
    assert plane_cut(np.zeros_like(tube), np.array([15, 15, 15.0]), np.array([0, 0, 1.0])).sum() == 0


def test_closest_blob_keeps_the_nearest_one():
    mask = np.zeros((20, 5, 5), np.uint8)
    mask[1:3, 2, 2] = 1
    mask[15:19, 2, 2] = 1
    kept = closest_blob(mask, np.array([16, 2, 2]))
    assert kept[15:19].sum() == 4 and kept[:5].sum() == 0


def test_mask_normal_of_a_tilted_disk():
    disk = np.zeros((30, 30, 30), np.uint8)
    i, j, k = np.indices(disk.shape) - 15
    disk[(np.abs(i + k) <= 0.5) & (i ** 2 + j ** 2 + k ** 2 <= 100)] = 1
    normal = mask_normal(disk)
    assert abs(abs(normal @ np.array([1, 0, 1]) / np.sqrt(2)) - 1) < 1e-6
