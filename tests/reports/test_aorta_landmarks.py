"""Known answers for the aorta report's landmark anchors."""

from __future__ import annotations

import numpy as np

from totalseg.reports.aorta.landmarks import farthest_points


def test_farthest_points_between_two_masks():
    a = np.zeros((10, 10, 10), bool)
    b = np.zeros_like(a)
    a[0, 0, 0] = a[1, 1, 1] = True
    b[9, 9, 9] = b[5, 5, 5] = True
    first, second = farthest_points(a, b)
    assert first.tolist() == [0, 0, 0] and second.tolist() == [9, 9, 9]
    assert farthest_points(np.zeros_like(a), b) == (None, None)
