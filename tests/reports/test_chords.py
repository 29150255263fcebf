"""The shared section chords (reports/chords.py) against brute force."""

from __future__ import annotations

import numpy as np

from totalseg.reports.chords import farthest_pair, first_region_diameter


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
