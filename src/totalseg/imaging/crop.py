"""Cropping to the bounding box of a mask (plus a margin in mm) and putting results back."""

from __future__ import annotations

import numpy as np

from totalseg.imaging.resample import header_zooms
from totalseg.imaging.volume import Volume


def mask_bbox(mask: np.ndarray, *, margin_vox: tuple[int, int, int] = (0, 0, 0)) -> tuple[slice, ...] | None:
    """Bounding box of ``mask > 0`` grown by ``margin_vox`` and clipped to the array; None if empty.

    Examples:
        >>> m = np.zeros((10, 10, 10)); m[4:6, 5, 5] = 1
        >>> mask_bbox(m, margin_vox=(1, 1, 1))
        (slice(3, 7, None), slice(4, 7, None), slice(4, 7, None))
    """
    box = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        hits = np.flatnonzero(np.any(mask > 0, axis=others))
        if hits.size == 0:
            return None
        start = max(0, int(hits[0]) - margin_vox[axis])
        stop = min(mask.shape[axis], int(hits[-1]) + 1 + margin_vox[axis])
        box.append(slice(start, stop))
    return tuple(box)


def margin_in_voxels(affine: np.ndarray, margin_mm: tuple[float, float, float]) -> tuple[int, int, int]:
    """A margin in mm as whole voxels along each array axis (rounded down, as the official tool)."""
    return tuple(int(v) for v in (np.array(margin_mm) / header_zooms(affine)).astype(int))  # type: ignore[return-value]


def crop(vol: Volume, bbox: tuple[slice, ...], *, dtype=None) -> Volume:
    """The part of ``vol`` inside ``bbox``, with the affine moved so world positions stay put."""
    data = vol.array[bbox]
    if dtype is not None:
        data = data.astype(dtype)
    affine = vol.affine.copy()
    affine[:3, 3] = (vol.affine @ np.array([b.start for b in bbox] + [1]))[:3]
    return vol.with_data(data, affine=affine)


def uncrop(part: Volume, bbox: tuple[slice, ...], *, like: Volume) -> Volume:
    """Place ``part`` at ``bbox`` in a zero volume shaped and positioned like ``like``."""
    full = np.zeros(like.shape, dtype=part.array.dtype)
    full[bbox] = part.array
    return part.with_data(full, affine=like.affine)
