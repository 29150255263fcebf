"""Chords of a vessel's cross-section, as the official aorta and pulmonary reports measure them.

Both official reports take the boundary of a 2-D section (the foreground pixels with a background
face neighbour) and, for the diameter perpendicular to a given one, the longest boundary chord whose
direction is (nearly) perpendicular to it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def boundary_points(mask: np.ndarray) -> np.ndarray:
    """Indices (N, D) of the foreground voxels with a background face neighbour, in C order.

    Examples:
        >>> len(boundary_points(np.ones((3, 3), np.uint8)))
        8
    """
    mask = mask > 0
    return np.argwhere(np.logical_xor(mask, ndimage.binary_erosion(mask)))


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
