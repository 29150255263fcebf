"""Chords of a vessel's cross-section, as the official aorta and pulmonary reports measure them.

Both official reports take the boundary of a 2-D section (the foreground pixels with a background
face neighbour); a section's diameter is its longest boundary chord (the farthest pair of boundary
pixels of its first connected region), and the diameter perpendicular to it is the longest boundary
chord whose direction is (nearly) perpendicular to it. The official aorta report's geometry holds
these once and its pulmonary report imports them; so do ours: :func:`plane_diameters` is both
reports' diameters of a section (the official ``get_plane_diameters``), in mm or in index units.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from scipy.spatial.distance import pdist


def boundary_points(mask: np.ndarray) -> np.ndarray:
    """Indices (N, D) of the foreground voxels with a background face neighbour, in C order.

    Examples:
        >>> len(boundary_points(np.ones((3, 3), np.uint8)))
        8
    """
    mask = mask > 0
    return np.argwhere(np.logical_xor(mask, ndimage.binary_erosion(mask)))


def farthest_pair(points: np.ndarray) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """The largest distance between two of ``points`` (N, D) and that pair (copies), the first pair
    in ``pdist`` order on ties; ``(0.0, None, None)`` for no point, the point twice for one.

    Examples:
        >>> d, a, b = farthest_pair(np.array([[0, 0], [3, 4], [1, 1]]))
        >>> float(d), a.tolist(), b.tolist()
        (5.0, [0, 0], [3, 4])
        >>> farthest_pair(np.zeros((0, 2), int))
        (0.0, None, None)
    """
    if len(points) == 0:
        return 0.0, None, None
    if len(points) == 1:
        return 0.0, points[0].copy(), points[0].copy()
    distances = pdist(points)
    best = int(np.argmax(distances))
    first, second = condensed_pair(best, len(points))
    return float(distances[best]), points[first].copy(), points[second].copy()


def condensed_pair(k: int, n: int) -> tuple[int, int]:
    """The pair ``(i, j)``, ``i < j``, at index ``k`` of a condensed distance matrix of ``n`` points
    (``pdist`` order), without building the (n^2 / 2)-long index arrays.

    Examples:
        >>> [condensed_pair(k, 4) for k in range(6)]
        [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    """
    i = n - 2 - int(np.floor(np.sqrt(-8 * k + 4 * n * (n - 1) - 7) / 2 - 0.5))
    j = k + i + 1 - n * (n - 1) // 2 + (n - i) * (n - i - 1) // 2
    return i, int(j)


def first_region_diameter(mask: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
    """The longest boundary chord (index units) and its end points of the first connected region of
    ``mask`` (full connectivity, regions numbered in C order), or None for an empty mask.

    Examples:
        >>> m = np.zeros((6, 6), np.uint8); m[1:4, 1] = 1; m[5, 5] = 1
        >>> d, a, b = first_region_diameter(m); float(d), a.tolist(), b.tolist()
        (2.0, [1, 1], [3, 1])
        >>> first_region_diameter(np.zeros((3, 3))) is None
        True
    """
    labels, count = ndimage.label(mask > 0, structure=np.ones((3,) * mask.ndim))
    if count == 0:
        return None
    box = ndimage.find_objects(labels, max_label=1)[0]
    diameter, a, b = farthest_pair(boundary_points(labels[box] == 1))
    offset = np.array([s.start for s in box])
    return diameter, a + offset, b + offset


def perpendicular_chord(mask: np.ndarray, start: np.ndarray, end: np.ndarray
                        ) -> tuple[float, np.ndarray, np.ndarray] | None:
    """The longest boundary chord of ``mask`` (nearly) perpendicular to ``start``-``end``: its length
    in index units and its end points, or None.

    Chords with ``|cos| < 0.1`` are tried first (used when longer than 5 pixels), then 0.2, then 0.5.

    Examples:
        >>> m = np.zeros((12, 12), np.uint8); m[1:11, 3:9] = 1
        >>> length, a, b = perpendicular_chord(m, np.array([1, 3]), np.array([10, 3]))
        >>> round(length, 3), a.tolist(), b.tolist()
        (5.099, [1, 3], [2, 8])

        (The exactly perpendicular chords are 5 pixels long, not more than 5, so the official rule
        moves on to |cos| < 0.2.)
    """
    points = boundary_points(mask)
    if len(points) < 2:
        return None
    first, second = np.triu_indices(len(points), 1)
    vectors = points[second] - points[first]
    lengths = np.linalg.norm(vectors, axis=1)
    reference = np.asarray(end) - np.asarray(start)
    cosines = np.abs(vectors @ reference) / (lengths * np.linalg.norm(reference) + 1e-7)
    for threshold in (0.1, 0.2, 0.5):
        eligible = np.flatnonzero(cosines < threshold)
        if len(eligible):
            best = eligible[int(np.argmax(lengths[eligible]))]
            if threshold != 0.1 or lengths[best] > 5:
                return float(lengths[best]), points[first[best]], points[second[best]]
    return None


def distance_mm(a: Sequence[float], b: Sequence[float], spacing: Sequence[float]) -> float:
    """Distance between two voxel positions in mm, through the grid's voxel sizes ``spacing``.

    Examples:
        >>> distance_mm((0, 0), (3, 4), (1.0, 2.0))
        8.54400374531753
    """
    return float(np.sqrt(np.sum(((np.asarray(a) - np.asarray(b)) * np.asarray(spacing)) ** 2)))


def major_diameter_mm(mask: np.ndarray, spacing: Sequence[float]) -> float | None:
    """The first region's longest boundary chord in mm (None when ``mask`` is empty).

    Examples:
        >>> m = np.zeros((6, 6), np.uint8); m[1:5, 2] = 1
        >>> major_diameter_mm(m, (0.5, 0.5))
        1.5
    """
    region = first_region_diameter(mask)
    return None if region is None else distance_mm(region[1], region[2], spacing)


def plane_diameters(mask: np.ndarray, spacing: Sequence[float] | None = None
                    ) -> tuple[float, float, tuple | None, tuple | None]:
    """A section's diameter, its perpendicular diameter and both end-point pairs (the official
    ``get_plane_diameters``): distances in mm with ``spacing``, else in index units;
    ``(0.0, 0.0, None, None)`` for an empty mask, a perpendicular of 0.0 and None without one.

    Examples:
        >>> m = np.zeros((12, 12), np.uint8); m[1:11, 3:9] = 1
        >>> [round(v, 2) for v in plane_diameters(m, (1.0, 1.0))[:2]]
        [10.3, 5.83]
        >>> bar = np.zeros((10, 10), np.uint8); bar[2:8, 4:6] = 1
        >>> d, pd, _, _ = plane_diameters(bar, (0.5, 0.5)); round(d, 3), round(pd, 3)
        (2.55, 0.5)
    """
    region = first_region_diameter(mask)
    if region is None:
        return 0.0, 0.0, None, None
    _, start, end = region
    scale = np.ones(mask.ndim) if spacing is None else np.asarray(spacing)
    found = perpendicular_chord(mask, start, end)
    if found is None:
        return distance_mm(start, end, scale), 0.0, (start, end), None
    _, start_pd, end_pd = found
    return (distance_mm(start, end, scale), distance_mm(start_pd, end_pd, scale), (start, end),
            (start_pd, end_pd))
