"""The shared section chords and diameters (reports/chords.py): brute force and known answers."""

from __future__ import annotations

import numpy as np

from totalseg.reports.chords import (
    condensed_pair,
    farthest_pair,
    first_region_diameter,
    major_diameter_mm,
    perpendicular_chord,
    plane_diameters,
)


def test_farthest_pair_is_the_first_longest_pair_of_a_brute_force_search():
    rng = np.random.default_rng(3)
    for n in (2, 5, 40, 300):
        points = rng.integers(0, 12, size=(n, 2))  # many ties
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        lengths = [np.linalg.norm(points[i] - points[j]) for i, j in pairs]
        i, j = pairs[int(np.argmax(lengths))]
        d, a, b = farthest_pair(points)
        assert d == max(lengths) and a.tolist() == points[i].tolist() and b.tolist() == points[j].tolist()


def test_first_region_diameter_measures_the_first_region_in_c_order_only():
    mask = np.zeros((20, 20), np.uint8)
    mask[2:4, 10:12] = 1  # first in C order, small
    mask[8:18, 1:3] = 1  # larger, second
    d, a, b = first_region_diameter(mask)
    assert round(d, 3) == 1.414 and a.tolist() == [2, 10] and b.tolist() == [3, 11]


def test_condensed_pair_matches_the_index_arrays():
    for n in (2, 3, 7, 50, 1001):
        first, second = np.triu_indices(n, 1)
        picks = np.unique(np.linspace(0, len(first) - 1, 200).astype(int))
        assert [condensed_pair(int(k), n) for k in picks] == list(zip(first[picks].tolist(), second[picks].tolist()))


def _disk(radius: float, size: int = 41) -> np.ndarray:
    y, x = np.indices((size, size)) - size // 2
    return (x ** 2 + y ** 2 <= radius ** 2).astype(np.uint8)


def test_disk_diameters_are_twice_the_radius():
    diameter, perpendicular, major, chord = plane_diameters(_disk(10), np.array([0.5, 0.5]))
    assert diameter == 10.0  # boundary pixel centres 20 pixels apart, 0.5 mm each
    assert 9.0 <= perpendicular <= 10.0
    direction = major[1] - major[0]
    across = chord[1] - chord[0]
    assert abs(direction @ across) / np.linalg.norm(direction) / np.linalg.norm(across) < 0.1


def test_ellipse_perpendicular_is_the_minor_axis_in_mm_or_index_units():
    y, x = np.indices((61, 61)) - 30
    ellipse = ((x / 25.0) ** 2 + (y / 12.0) ** 2 <= 1).astype(np.uint8)
    diameter, perpendicular, _, _ = plane_diameters(ellipse, np.array([1.0, 1.0]))
    assert diameter == 50.0
    assert 23.0 <= perpendicular <= 25.0
    in_mm = plane_diameters(ellipse, (2.0, 0.5))
    in_index = plane_diameters(ellipse)
    assert in_index[:2] == (diameter, perpendicular) and in_mm[2][0].tolist() == in_index[2][0].tolist()
    start, end = in_mm[2]
    assert in_mm[0] == float(np.linalg.norm((end - start) * [2.0, 0.5]))


def test_no_perpendicular_chord_gives_zero_and_none():
    line = np.zeros((9, 9), np.uint8)
    line[4, 1:8] = 1  # a one-pixel line: every chord lies along it
    assert perpendicular_chord(line, np.array([4, 1]), np.array([4, 7])) is None
    d, pd, major, minor = plane_diameters(line, (1.0, 1.0))
    assert (d, pd, minor) == (6.0, 0.0, None) and [p.tolist() for p in major] == [[4, 1], [4, 7]]

def test_empty_mask_has_no_diameter():
    assert plane_diameters(np.zeros((5, 5), np.uint8), np.ones(2)) == (0.0, 0.0, None, None)
    assert major_diameter_mm(np.zeros((5, 5, 5), np.uint8), np.ones(3)) is None
