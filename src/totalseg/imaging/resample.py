"""Resampling to a target voxel size, with the official tool's exact semantics.

The official pipeline zooms the array with ``scipy.ndimage.zoom(mode="nearest")`` by the factor
``header_zooms / target`` (header zooms are float32), scales the affine's columns by the same
factor, and leaves the image untouched when the float32 zooms already equal the target.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from totalseg.imaging.layout import c_contiguous
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


def resample_to_shape(vol: Volume, *, shape: tuple[int, int, int], affine: np.ndarray) -> Volume:
    """Nearest-neighbour resampling of ``vol`` onto a grid of ``shape`` (labels back to the input grid).

    Gives exactly ``scipy.ndimage.zoom(order=0, mode="nearest")`` by the factor ``shape / vol.shape``,
    computed as one gather per axis with that axis's source indices instead of per-voxel
    interpolation. The result is Fortran-ordered, the order NIfTI files store voxels in.
    ``affine`` is the target grid's affine, written to the result as is.
    """
    if tuple(shape) == vol.shape:
        return vol.with_data(vol.array, affine=affine)
    # Gathered on the transposed array, last along its first axis: the largest copy moves whole
    # contiguous rows (18x faster than one 3-D fancy index on a clinical-size CT).
    out = c_contiguous(vol.array.T)
    for axis, (n_in, n_out) in enumerate(zip(vol.shape, shape)):
        out = out.take(nearest_indices(n_in, n_out), axis=2 - axis)
    return vol.with_data(out.T, affine=affine)


def nearest_indices(n_in: int, n_out: int) -> np.ndarray:
    """Source index of each output sample of an order-0 ``ndimage.zoom`` along one axis.

    ndimage maps output ``i`` to input ``i * (n_in - 1) / (n_out - 1)`` and rounds half up.

    Examples:
        >>> nearest_indices(3, 6).tolist()
        [0, 0, 1, 1, 2, 2]
    """
    if n_out == 1:
        return np.zeros(1, dtype=np.intp)
    step = (n_in - 1) / (n_out - 1)
    return np.clip(np.floor(np.arange(n_out) * step + 0.5).astype(np.intp), 0, n_in - 1)


def _zoom(vol: Volume, zoom: np.ndarray, *, order: int, dtype) -> Volume:
    # Interpolate straight from the stored dtype into float64, as zooming a float64 copy would,
    # without making that copy (1.7 GB for a 512x512x800 int16 CT).
    # ndimage walks the input in C order. For linear interpolation of a Fortran-ordered array (as
    # nibabel loads NIfTI) a C copy first is 2.6x faster in all on a 488x404x269 CT and 4.5x on a
    # 512x512x900 one, with the same values; order 0 is faster in place, and orders >= 2
    # spline-filter into a C-ordered copy anyway.
    source = c_contiguous(vol.array) if order == 1 else vol.array
    zoomed = ndimage.zoom(source, zoom, output=np.float64, mode="nearest", order=order)
    affine = vol.affine.copy()
    affine[:3, :3] = affine[:3, :3] / zoom
    return vol.with_data(zoomed.astype(dtype, copy=False), affine=affine)
