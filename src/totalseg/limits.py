"""Bounds on what an input can make totalseg allocate, checked from its header before any voxel is read.

A valid container can claim absurd content: a NIfTI header that promises a 40000^3 grid over a few
bytes of data, voxel sizes of metres that would resample into 10^11 voxels, a single voxel. Each
is refused with one line naming the limit and the reason, instead of a MemoryError, a traceback
or an empty "segmentation".
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from totalseg.errors import InputError

# zlib's deflate cannot expand more than about 1032:1; a compressed file claiming more data lies.
DEFLATE_MAX_RATIO = 1032
# Bytes per voxel of a model grid while it is predicted: the int32 grid, the float64 zoom, the
# float32 network input and its C-ordered copy, the uint8 labels.
GRID_BYTES_PER_VOXEL = 32
# No CT or MR resampled to a model's grid comes near this (a 2 m body at 1.5 mm is ~0.25 G voxels).
MAX_GRID_VOXELS = 2_000_000_000
# The models read anatomy from neighbourhoods of voxels: a slice needs at least this many per side.
MIN_SLICE_VOXELS = 8


def available_memory() -> int:
    """Bytes of memory the system can give without swapping (MemAvailable), or free physical memory.

    Examples:
        >>> available_memory() > 0
        True
    """
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**63 - 1  # unknown: do not refuse on memory grounds


def check_claimed_size(source: str, shape: Sequence[int], itemsize: int, *, stored_bytes: int,
                       compressed: bool) -> None:
    """Refuse a header whose grid needs more data than the file can hold or memory can take.

    Args:
        source: the file, for the message.
        shape: the grid the header claims (all dimensions that will be read).
        itemsize: bytes per stored voxel.
        stored_bytes: bytes of voxel data in the file (compressed size for compressed files).
        compressed: the data is deflate-compressed (it can expand up to ``DEFLATE_MAX_RATIO`` times).

    Examples:
        >>> try:
        ...     check_claimed_size("ct.nii", (40000, 40000, 40000), 2, stored_bytes=100, compressed=False)
        ... except InputError as exc:
        ...     print(exc)  # doctest: +ELLIPSIS
        ct.nii: the header claims 40000x40000x40000 voxels (128000.0 GB) but the file holds 100 bytes of data; ...
    """
    claimed = int(np.prod([int(n) for n in shape], dtype=np.float64)) * int(itemsize)
    grid = "x".join(str(int(n)) for n in shape)
    capacity = stored_bytes * (DEFLATE_MAX_RATIO if compressed else 1)
    if claimed > capacity:
        held = f"{stored_bytes} bytes of {'compressed ' if compressed else ''}data"
        raise InputError(f"{source}: the header claims {grid} voxels ({claimed / 1e9:.1f} GB) but the file holds "
                         f"{held}; the header is corrupt, re-export the image")
    if claimed > available_memory():
        raise InputError(f"{source}: {grid} voxels need {claimed / 1e9:.1f} GB to read, more than the "
                         f"{available_memory() / 1e9:.1f} GB of memory available; crop or downsample the image first")


def check_grid_size(source: str, shape: Sequence[int], spacing_mm: Sequence[float], target_mm: Sequence[float]) -> None:
    """Refuse resampling an image of ``shape`` voxels of ``spacing_mm`` to ``target_mm`` when the
    result would be absurd (over ``MAX_GRID_VOXELS``) or beyond memory.

    Examples:
        >>> try:
        ...     check_grid_size("ct.nii", (100, 100, 100), (1e4, 1e4, 1e4), (1.5, 1.5, 1.5))
        ... except InputError as exc:
        ...     print(exc)  # doctest: +ELLIPSIS
        ct.nii: at 1.5x1.5x1.5 mm the model grid would be 666667x666667x666667 voxels (3e+17; the limit is ...
    """
    grid = [max(1, round(n * s / t)) for n, s, t in zip(shape, spacing_mm, target_mm)]
    voxels = float(np.prod(grid, dtype=np.float64))
    limit = min(MAX_GRID_VOXELS, available_memory() / GRID_BYTES_PER_VOXEL)
    if voxels > limit:
        sizes = "x".join(f"{s:.3g}" for s in spacing_mm)
        raise InputError(
            f"{source}: at {'x'.join(f'{t:g}' for t in target_mm)} mm the model grid would be "
            f"{'x'.join(str(n) for n in grid)} voxels ({voxels:.0e}; the limit is {limit:.0e}): the voxel sizes "
            f"{sizes} mm in the header are implausible; fix the header"
            + ("" if voxels > MAX_GRID_VOXELS else " or free memory"))


def check_image_size(source: str, shape: Sequence[int]) -> None:
    """Refuse an image too small to hold anatomy: fewer than ``MIN_SLICE_VOXELS`` voxels along two
    of its axes (a single slice is allowed, as the official tool allows it).

    Examples:
        >>> try:
        ...     check_image_size("ct.nii", (1, 1, 1))
        ... except InputError as exc:
        ...     print(exc)  # doctest: +ELLIPSIS
        ct.nii: 1x1x1 voxels is too small to hold anatomy; the models need at least 8 x 8 voxels in a slice
    """
    if sorted(int(n) for n in shape)[-2] < MIN_SLICE_VOXELS:
        raise InputError(f"{source}: {'x'.join(str(int(n)) for n in shape)} voxels is too small to hold anatomy; "
                         f"the models need at least {MIN_SLICE_VOXELS} x {MIN_SLICE_VOXELS} voxels in a slice")
