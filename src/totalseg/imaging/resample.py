"""Resampling to a target voxel size, with the official tool's exact semantics.

The official pipeline zooms the array with ``scipy.ndimage.zoom(mode="nearest")`` by the factor
``header_zooms / target`` (header zooms are float32), scales the affine's columns by the same
factor, and leaves the image untouched when the float32 zooms already equal the target.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from totalseg.imaging.volume import Volume


def header_zooms(affine: np.ndarray) -> np.ndarray:
    """Voxel sizes as a NIfTI header stores them: column norms of the affine, in float32."""
    return np.sqrt(np.sum(affine[:3, :3] ** 2, axis=0)).astype(np.float32)


def resample_to_spacing(
    vol: Volume, *, spacing_mm: float | tuple[float, float, float], order: int = 1, dtype=np.int32
) -> Volume:
    """Resample ``vol`` to ``spacing_mm`` (order 1 = linear), then cast to ``dtype``.

    Returns ``vol`` itself when its spacing already equals the target.

    Examples:
        >>> import numpy as np
        >>> vol = Volume(np.ones((10, 10, 10)), affine=np.diag([1.5, 1.5, 1.5, 1.0]))
        >>> resample_to_spacing(vol, spacing_mm=3.0).shape
        (5, 5, 5)
    """
    target = np.array([spacing_mm] * 3 if np.isscalar(spacing_mm) else spacing_mm, dtype=np.float64)
    current = header_zooms(vol.affine)
    if np.array_equal(current, target):
        return vol
    zoom = current / target
    return _zoom(vol, zoom, order=order, dtype=dtype)


def resample_to_shape(vol: Volume, *, shape: tuple[int, int, int], affine: np.ndarray, order: int = 0) -> Volume:
    """Resample ``vol`` onto a grid of ``shape`` (labels back to the input grid use order 0).

    ``affine`` is the target grid's affine, written to the result as is.
    """
    zoom = np.array(shape) / np.array(vol.shape)
    if np.all(zoom == 1):
        return vol.with_data(vol.array, affine=affine)
    out = _zoom(vol, zoom, order=order, dtype=vol.array.dtype)
    return out.with_data(out.array, affine=affine)


def _zoom(vol: Volume, zoom: np.ndarray, *, order: int, dtype) -> Volume:
    data = vol.array if order == 0 else vol.array.astype(np.float64, copy=False)
    zoomed = ndimage.zoom(data, zoom, mode="nearest", order=order)
    affine = vol.affine.copy()
    affine[:3, :3] = affine[:3, :3] / zoom
    return vol.with_data(zoomed.astype(dtype, copy=False), affine=affine)
