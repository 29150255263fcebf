"""Cross-sections of a mask by a plane, and their diameters, with the official report's rules.

A plane through a centerline point is the set of voxels less than one voxel from it; its cut of the
aorta is dilated once and only the 26-connected blob nearest the point is kept. A cut's diameter and
perpendicular diameter are the chords of :mod:`totalseg.reports.chords` (shared with the pulmonary
report). Distances are between voxel centres, in mm through the grid's voxel sizes.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial.distance import cdist

from totalseg.reports.chords import first_region_diameter, perpendicular_chord


def plane_mask(shape: tuple[int, ...], normal: np.ndarray, point: np.ndarray) -> np.ndarray:
    """uint8 mask of the voxels within one voxel of the plane through ``point`` with ``normal``.

    Examples:
        >>> int(plane_mask((5, 5, 5), np.array([0, 0, 1.0]), np.array([2, 2, 2.0])).sum())
        25
    """
    normal = np.asarray(normal, dtype=float)
    norm = np.linalg.norm(normal)
    if norm == 0:
        return np.zeros(shape, dtype=np.uint8)
    normal = normal / norm
    point = np.asarray(point, dtype=float)
    coords = np.ogrid[tuple(slice(0, size) for size in shape)]
    distance = sum((coords[axis] - point[axis]) * normal[axis] for axis in range(len(shape)))
    return (np.abs(distance) < 1).astype(np.uint8)


def closest_blob(mask: np.ndarray, point: np.ndarray) -> np.ndarray:
    """The 26-connected blob of ``mask`` whose voxels are nearest ``point`` on average (uint8).

    Examples:
        >>> m = np.zeros((9, 1, 1), np.uint8); m[0:2] = 1; m[6:9] = 1
        >>> closest_blob(m, np.array([7, 0, 0]))[:, 0, 0].tolist()
        [0, 0, 0, 0, 0, 0, 1, 1, 1]
    """
    blobs, count = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    if count == 0:
        return mask
    distances = [np.linalg.norm(np.argwhere(blobs == i) - point, axis=1).mean() for i in range(1, count + 1)]
    return (blobs == int(np.argmin(distances)) + 1).astype(np.uint8)


def plane_cut(mask: np.ndarray, point: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """The official cross-section of ``mask`` by the plane through ``point``: dilated once, nearest blob.

    Examples:
        >>> m = np.zeros((20, 20, 20), np.uint8); m[5:15, 5:15, :] = 1
        >>> cut = plane_cut(m, np.array([10, 10, 10.0]), np.array([0, 0, 1.0]))
        >>> int(cut[:, :, 10].sum()), int(cut.sum() > 0)
        (140, 1)
    """
    plane = plane_mask(mask.shape, normal, point)
    cut = ndimage.binary_dilation((plane + mask) > 1, iterations=1)
    return closest_blob(cut, point)


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


def mask_normal(mask: np.ndarray) -> np.ndarray:
    """Unit normal of a flat mask: the direction of least variance of its voxel positions (PCA).

    Examples:
        >>> m = np.zeros((9, 9, 9)); m[1:8, 1:8, 4] = 1
        >>> np.abs(mask_normal(m)).round(3).tolist()
        [0.0, 0.0, 1.0]
    """
    points = np.argwhere(mask > 0.5).astype(float)
    if len(points) < 2:
        return np.array([0.0, 0.0, 1.0])
    centred = points - points.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    normal = vectors[:, 0]
    norm = np.linalg.norm(normal)
    return normal / norm if norm > 1e-10 else np.array([0.0, 0.0, 1.0])


def centre(mask: np.ndarray) -> np.ndarray | None:
    """Mean voxel position of ``mask`` (None if empty).

    Examples:
        >>> centre(np.eye(3)).tolist(), centre(np.zeros((2, 2)))
        ([1.0, 1.0], None)
    """
    points = np.argwhere(mask)
    return points.mean(axis=0) if len(points) else None


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
