"""Diameters of the aorta's cross-sections in mm, and the farthest voxels of two masks, with the
official report's rules.

A cut of the aorta by a plane (:func:`~totalseg.reports.sections.plane_cut`) and its diameter and
perpendicular diameter (:mod:`totalseg.reports.chords`) are shared with the pulmonary report.
Distances are between voxel centres, in mm through the grid's voxel sizes.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

from totalseg.reports.chords import first_region_diameter, perpendicular_chord
from totalseg.reports.sections import closest_blob, mask_normal, plane_cut

# the shared sections (reports/sections.py), offered here too
__all__ = ["closest_blob", "mask_normal", "plane_cut", "distance_mm", "major_diameter_mm", "diameters_mm",
           "farthest_points"]


def distance_mm(a: np.ndarray, b: np.ndarray, spacing: np.ndarray) -> float:
    """Distance between two voxel positions in mm.

    Examples:
        >>> distance_mm(np.array([0, 0]), np.array([3, 4]), np.array([1.0, 1.0]))
        5.0
    """
    return float(np.sqrt(np.sum(((np.asarray(a) - np.asarray(b)) * np.asarray(spacing)) ** 2)))


def major_diameter_mm(mask: np.ndarray, spacing: np.ndarray) -> float | None:
    """The first region's largest diameter in mm (None when ``mask`` is empty).

    Examples:
        >>> m = np.zeros((6, 6), np.uint8); m[1:5, 2] = 1
        >>> major_diameter_mm(m, np.array([0.5, 0.5]))
        1.5
    """
    region = first_region_diameter(mask)
    return None if region is None else distance_mm(region[1], region[2], spacing)


def diameters_mm(mask: np.ndarray, spacing: np.ndarray):
    """(diameter, perpendicular diameter, (start, end), (start_pd, end_pd) or None) of the first region.

    Examples:
        >>> m = np.zeros((12, 12), np.uint8); m[1:11, 3:9] = 1
        >>> [round(v, 2) for v in diameters_mm(m, np.array([1.0, 1.0]))[:2]]
        [10.3, 5.83]
    """
    region = first_region_diameter(mask)
    if region is None:
        return 0.0, 0.0, None, None
    _, start, end = region
    found = perpendicular_chord(mask, start, end)
    chord = found[1:] if found is not None else None
    perpendicular = distance_mm(*chord, spacing) if chord is not None else 0.0
    return distance_mm(start, end, spacing), perpendicular, (start, end), chord


def farthest_points(mask_a: np.ndarray, mask_b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """The voxel of ``mask_a`` and the voxel of ``mask_b`` farthest apart (first in C order on ties).

    Examples:
        >>> a = np.zeros((5, 5), bool); a[0, 0] = a[1, 1] = True
        >>> b = np.zeros((5, 5), bool); b[4, 4] = True
        >>> [p.tolist() for p in farthest_points(a, b)]
        [[0, 0], [4, 4]]
    """
    points_a, points_b = np.argwhere(mask_a), np.argwhere(mask_b)
    best, result = 0.0, (None, None)
    for offset in range(0, len(points_a), 1024):
        distances = cdist(points_a[offset: offset + 1024], points_b)
        k = int(np.argmax(distances))
        if distances.flat[k] > best:
            i, j = np.unravel_index(k, distances.shape)
            best, result = distances.flat[k], (points_a[offset + i], points_b[j])
    return result
