"""A vessel's cross-section by a plane, as the official aorta and pulmonary reports cut it.

The official aorta report's geometry holds these once (``draw_plane``, ``keep_closest_blob``,
``get_plane_aorta_intersection``) and its pulmonary report imports them: the plane is every voxel
closer than one voxel (index units) to it; its cut of the vessel is dilated once (6-connectivity) and
only the 26-connected blob nearest the plane's point, on average, is kept. A flat mask's normal is
its direction of least spread (``find_mask_normal``: scikit-learn's PCA, whose solver choice and sign
rule :func:`mask_normal` reproduces).

Examples:
    >>> tube = np.zeros((12, 12, 12), np.uint8); tube[4:8, 4:8, :] = 1
    >>> cut = plane_cut(tube, (6, 6, 6), np.array([0.0, 0, 1]))
    >>> int(cut.sum()), sorted(set(np.argwhere(cut)[:, 2].tolist()))
    (64, [5, 6, 7])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg
from scipy import ndimage


def plane_mask(shape: Sequence[int], normal: np.ndarray, point: Sequence[float]) -> np.ndarray:
    """uint8 mask of the voxels whose distance to the plane through ``point`` along ``normal`` (index
    units) is below 1; all zero for a zero normal.

    Examples:
        >>> int(plane_mask((5, 5, 5), np.array([0, 0, 1.0]), (2, 2, 2)).sum())
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


def closest_blob(mask: np.ndarray, point: Sequence[float]) -> np.ndarray:
    """The 26-connected blob of ``mask`` whose voxels lie nearest ``point`` on average (uint8); the
    mask itself when it is empty.

    Examples:
        >>> m = np.zeros((9, 1, 1), np.uint8); m[0:2] = 1; m[6:9] = 1
        >>> closest_blob(m, (7, 0, 0))[:, 0, 0].tolist()
        [0, 0, 0, 0, 0, 0, 1, 1, 1]
    """
    blobs, count = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    if count == 0:
        return mask
    distances = [np.linalg.norm(np.argwhere(blobs == i) - np.asarray(point), axis=1).mean()
                 for i in range(1, count + 1)]
    return (blobs == int(np.argmin(distances)) + 1).astype(np.uint8)


def plane_cut(vessel: np.ndarray, point: Sequence[float], normal: np.ndarray) -> np.ndarray:
    """The vessel's cross-section by the plane through ``point`` along ``normal``: plane and vessel
    voxels, dilated once, the blob nearest the point (uint8).

    Examples:
        >>> v = np.zeros((20, 20, 20), np.uint8); v[5:15, 5:15, :] = 1
        >>> cut = plane_cut(v, (10, 10, 10), np.array([0, 0, 1.0]))
        >>> int(cut[:, :, 10].sum()), int(plane_cut(np.zeros_like(v), (10, 10, 10), np.ones(3)).sum())
        (140, 0)
    """
    plane = plane_mask(vessel.shape, normal, point)
    both = (plane.astype(np.int64) + vessel) > 1
    return closest_blob(ndimage.binary_dilation(both, iterations=1), point).astype(np.uint8)


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
