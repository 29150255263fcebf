"""Plane geometry of the pulmonary report: mask centres and normals, a plane through a vessel, and the
largest and perpendicular diameters of a cross-section, with the official report's rules.

These follow TotalSegmentator's ``aorta_report.geometry`` routines, which its pulmonary report reuses:
the normal is the direction of least variance of the voxel positions (a PCA with scikit-learn's solver
choice and sign rule), the plane is every voxel closer than one voxel to it, a cross-section's
diameter is the farthest pair of its boundary voxels, and the perpendicular diameter is the longest
boundary chord within ``|cos| < 0.1`` of it (0.2, then 0.5, when none longer than 5 voxels exists);
those chords live in :mod:`totalseg.reports.chords`, shared with the aorta report.

Examples:
    >>> disc = np.zeros((9, 9), np.uint8); disc[2:7, 2:7] = 1
    >>> d, pd, ends, _ = plane_diameters(disc)
    >>> round(d, 3), round(pd, 3)
    (5.657, 5.657)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg
from scipy import ndimage

from totalseg.reports.chords import condensed_pair, farthest_pair, first_region_diameter, perpendicular_chord

# farthest_pair, condensed_pair and first_region_diameter are the shared chords, offered here too
__all__ = ["condensed_pair", "farthest_pair", "find_center", "first_region_diameter", "mask_normal",
           "draw_plane", "keep_closest_blob", "plane_vessel_intersection", "max_perpendicular_chord",
           "spaced_distance", "plane_diameters"]


def find_center(mask: np.ndarray, *, integer: bool = False) -> np.ndarray | None:
    """The mean voxel index of a mask's foreground (rounded to int32 with ``integer``), or None.

    Examples:
        >>> m = np.zeros((4, 4, 4)); m[1:3, 1, 0] = 1
        >>> find_center(m).tolist(), find_center(m, integer=True).tolist()
        ([1.5, 1.0, 0.0], [2, 1, 0])
    """
    points = np.argwhere(mask)
    if not len(points):
        return None
    centre = points.mean(axis=0)
    return np.round(centre).astype(np.int32) if integer else centre


def mask_normal(mask: np.ndarray) -> np.ndarray:
    """The unit direction of least spread of a mask's voxels (index space, float64).

    The principal axes are found as scikit-learn's PCA finds them for these shapes: eigenvectors of the
    covariance for 30 or more voxels, an SVD of the centred positions otherwise; each axis's largest
    entry is made positive.

    Examples:
        >>> m = np.zeros((8, 8, 8)); m[1:7, 1:7, 3] = 1
        >>> mask_normal(m).tolist()
        [0.0, 0.0, 1.0]
    """
    points = np.argwhere(mask > 0.5)
    if not points.size:
        raise ValueError("mask_normal: the mask has no foreground voxel")
    if len(points) == 1:
        return np.array([0.0, 0.0, 1.0])
    axes = _principal_axes(points - points.mean(axis=0))
    normal = np.asarray(axes[-1], dtype=float)
    if len(normal) < 3:
        normal = np.pad(normal, (0, 3 - len(normal)))
    norm = np.linalg.norm(normal)
    return normal / norm if norm > 1e-10 else np.array([0.0, 0.0, 1.0])


def _principal_axes(x: np.ndarray) -> np.ndarray:
    """Rows: principal axes of the centred positions ``x`` (N, 3), largest variance first."""
    n, features = x.shape
    if n >= 10 * features:
        mean = x.mean(axis=0)
        cov = x.T @ x
        cov -= n * mean.reshape(-1, 1) * mean.reshape(1, -1)
        cov /= n - 1
        _, vectors = np.linalg.eigh(cov)
        vt = np.flip(vectors, axis=1).T
    else:
        centred = x - x.mean(axis=0)
        _, _, vt = scipy.linalg.svd(centred, full_matrices=False)
    largest = np.argmax(np.abs(vt), axis=1)
    signs = np.sign(vt[np.arange(vt.shape[0]), largest])
    signs[signs == 0] = 1
    return (vt * signs[:, None])[: min(3, n, features)]


def draw_plane(shape: Sequence[int], normal: np.ndarray, point: Sequence[float]) -> np.ndarray:
    """uint8 mask of the voxels whose distance to the plane (index units) is below 1.

    Examples:
        >>> int(draw_plane((5, 5, 5), np.array([0.0, 0, 1]), (2, 2, 2)).sum())
        25
    """
    normal = np.asarray(normal, dtype=float)
    norm = np.linalg.norm(normal)
    if norm == 0:
        return np.zeros(shape, dtype=np.uint8)
    normal = normal / norm
    point = np.asarray(point, dtype=float)
    grid = np.ogrid[tuple(slice(0, size) for size in shape)]
    distance = sum((grid[axis] - point[axis]) * normal[axis] for axis in range(len(shape)))
    return (np.abs(distance) < 1).astype(np.uint8)


def keep_closest_blob(mask: np.ndarray, point: Sequence[float]) -> np.ndarray:
    """The 26-connected component of ``mask`` whose voxels lie closest to ``point`` on average (uint8);
    the mask itself when it is empty.

    Examples:
        >>> m = np.zeros((9, 3, 3), bool); m[0, 1, 1] = m[8, 1, 1] = True
        >>> np.argwhere(keep_closest_blob(m, (7, 1, 1))).tolist()
        [[8, 1, 1]]
    """
    blobs, count = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    if count == 0:
        return mask
    distances = [np.linalg.norm(np.argwhere(blobs == i) - np.asarray(point), axis=1).mean()
                 for i in range(1, count + 1)]
    return (blobs == int(np.argmin(distances)) + 1).astype(np.uint8)


def plane_vessel_intersection(vessel: np.ndarray, point: Sequence[float], normal: np.ndarray) -> np.ndarray:
    """The vessel's cross-section by the plane through ``point`` along ``normal``: plane and vessel
    voxels, dilated once (6-connectivity), the component nearest the point (uint8).

    Examples:
        >>> v = np.zeros((12, 12, 12), np.uint8); v[4:8, 4:8, :] = 1
        >>> s = plane_vessel_intersection(v, (6, 6, 6), np.array([0.0, 0, 1]))
        >>> int(s.sum()), sorted(set(np.argwhere(s)[:, 2].tolist()))
        (64, [5, 6, 7])
    """
    plane = draw_plane(vessel.shape, normal, point)
    both = (plane.astype(np.int64) + vessel) > 1
    return keep_closest_blob(ndimage.binary_dilation(both, iterations=1), point).astype(np.uint8)


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
