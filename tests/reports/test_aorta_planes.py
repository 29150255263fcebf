"""Known answers for cross-sections and their diameters."""

from __future__ import annotations

import numpy as np

from totalseg.reports.aorta import planes


def _disk(radius: float, size: int = 41) -> np.ndarray:
    y, x = np.indices((size, size)) - size // 2
    return (x ** 2 + y ** 2 <= radius ** 2).astype(np.uint8)


def test_disk_diameters_are_twice_the_radius():
    diameter, perpendicular, major, chord = planes.diameters_mm(_disk(10), np.array([0.5, 0.5]))
    assert diameter == 10.0  # boundary pixel centres 20 pixels apart, 0.5 mm each
    assert 9.0 <= perpendicular <= 10.0
    direction = major[1] - major[0]
    across = chord[1] - chord[0]
    assert abs(direction @ across) / np.linalg.norm(direction) / np.linalg.norm(across) < 0.1


def test_ellipse_perpendicular_is_the_minor_axis():
    y, x = np.indices((61, 61)) - 30
    ellipse = ((x / 25.0) ** 2 + (y / 12.0) ** 2 <= 1).astype(np.uint8)
    diameter, perpendicular, _, _ = planes.diameters_mm(ellipse, np.array([1.0, 1.0]))
    assert diameter == 50.0
    assert 23.0 <= perpendicular <= 25.0


def test_empty_mask_has_no_diameter():
    assert planes.diameters_mm(np.zeros((5, 5), np.uint8), np.ones(2)) == (0.0, 0.0, None, None)
    assert planes.major_diameter_mm(np.zeros((5, 5, 5), np.uint8), np.ones(3)) is None


def test_plane_cut_of_a_tube_is_a_thin_slab_through_the_point():
    tube = np.zeros((30, 30, 30), np.uint8)
    tube[5:25, 5:25, :] = 1
    other = np.zeros_like(tube)
    cut = planes.plane_cut(tube, np.array([15, 15, 15.0]), np.array([0, 0, 1.0]))
    zs = np.flatnonzero(cut.any(axis=(0, 1)))
    assert zs.tolist() == [14, 15, 16]  # the one-voxel plane, dilated once
    assert cut[:, :, 15].sum() == 20 * 20 + 4 * 20
    assert planes.plane_cut(other, np.array([15, 15, 15.0]), np.array([0, 0, 1.0])).sum() == 0


def test_closest_blob_keeps_the_nearest_one():
    mask = np.zeros((20, 5, 5), np.uint8)
    mask[1:3, 2, 2] = 1
    mask[15:19, 2, 2] = 1
    kept = planes.closest_blob(mask, np.array([16, 2, 2]))
    assert kept[15:19].sum() == 4 and kept[:5].sum() == 0


def test_mask_normal_of_a_tilted_disk():
    disk = np.zeros((30, 30, 30), np.uint8)
    i, j, k = np.indices(disk.shape) - 15
    disk[(np.abs(i + k) <= 0.5) & (i ** 2 + j ** 2 + k ** 2 <= 100)] = 1
    normal = planes.mask_normal(disk)
    assert abs(abs(normal @ np.array([1, 0, 1]) / np.sqrt(2)) - 1) < 1e-6


def test_farthest_points_between_two_masks():
    a = np.zeros((10, 10, 10), bool)
    b = np.zeros_like(a)
    a[0, 0, 0] = a[1, 1, 1] = True
    b[9, 9, 9] = b[5, 5, 5] = True
    first, second = planes.farthest_points(a, b)
    assert first.tolist() == [0, 0, 0] and second.tolist() == [9, 9, 9]
    assert planes.farthest_points(np.zeros_like(a), b) == (None, None)
