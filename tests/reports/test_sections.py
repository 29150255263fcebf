"""The shared plane cuts and normals (reports/sections.py)."""

from __future__ import annotations

import numpy as np
import pytest

from totalseg.reports.sections import find_center, mask_normal, plane_cut


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
