"""Diameters of the pulmonary report's cross-sections, in voxels or mm, with the official report's rules.

These follow TotalSegmentator's ``aorta_report.geometry`` routines, which its pulmonary report reuses:
a cross-section's diameter is the farthest pair of its boundary voxels, and the perpendicular
diameter is the longest boundary chord within ``|cos| < 0.1`` of it (0.2, then 0.5, when none longer
than 5 voxels exists). The chords, and the cut of a vessel by a plane with its normal, are shared
with the aorta report in :mod:`totalseg.reports.chords` and :mod:`totalseg.reports.sections`.

Examples:
    >>> disc = np.zeros((9, 9), np.uint8); disc[2:7, 2:7] = 1
    >>> d, pd, ends, _ = plane_diameters(disc)
    >>> round(d, 3), round(pd, 3)
    (5.657, 5.657)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from totalseg.reports.chords import condensed_pair, farthest_pair, first_region_diameter, perpendicular_chord
from totalseg.reports.sections import find_center, mask_normal
from totalseg.reports.sections import plane_cut as plane_vessel_intersection

# the shared chords and sections (reports/chords.py, reports/sections.py), offered here too
__all__ = ["condensed_pair", "farthest_pair", "find_center", "first_region_diameter", "mask_normal",
           "plane_vessel_intersection", "max_perpendicular_chord", "spaced_distance", "plane_diameters"]


def max_perpendicular_chord(mask: np.ndarray, start: np.ndarray | None, end: np.ndarray | None
                            ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """The longest boundary chord nearly perpendicular to ``end - start`` (index units).

    Chords with ``|cos| < 0.1`` are tried first (used when longer than 5 voxels), then 0.2, then 0.5.

    Examples:
        >>> m = np.zeros((9, 9), np.uint8); m[4, 1:8] = 1; m[2:7, 4] = 1
        >>> d, a, b = max_perpendicular_chord(m, np.array([4, 1]), np.array([4, 7]))
        >>> float(d), a.tolist(), b.tolist()
        (4.0, [2, 4], [6, 4])
    """
    if start is None or end is None:
        return 0.0, None, None
    return perpendicular_chord(mask, start, end) or (0.0, None, None)


def spaced_distance(a: Sequence[float], b: Sequence[float], spacing: Sequence[float]) -> float:
    """Euclidean distance between two voxel indices in mm.

    Examples:
        >>> spaced_distance((0, 0), (3, 4), (1.0, 2.0))
        8.54400374531753
    """
    return float(np.sqrt(np.sum(((np.asarray(a) - np.asarray(b)) * np.asarray(spacing)) ** 2)))


def plane_diameters(mask: np.ndarray, spacing: Sequence[float] | None = None
                    ) -> tuple[float, float, tuple | None, tuple | None]:
    """Largest diameter of the first region, the perpendicular diameter, and both end-point pairs;
    distances in mm with ``spacing``, else in voxels.

    Examples:
        >>> bar = np.zeros((10, 10), np.uint8); bar[2:8, 4:6] = 1
        >>> d, pd, _, _ = plane_diameters(bar, (0.5, 0.5)); round(d, 3), round(pd, 3)
        (2.55, 0.5)
    """
    region = first_region_diameter(mask)
    if region is None:
        return 0.0, 0.0, None, None
    _, start, end = region
    _, start_pd, end_pd = max_perpendicular_chord(mask, start, end)
    scale = np.ones(mask.ndim) if spacing is None else np.asarray(spacing)
    diameter = spaced_distance(start, end, scale)
    if start_pd is None or end_pd is None:
        return diameter, 0.0, (start, end), None
    return diameter, spaced_distance(start_pd, end_pd, scale), (start, end), (start_pd, end_pd)
