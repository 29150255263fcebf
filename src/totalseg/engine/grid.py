"""The sliding-window tile grid: a pure function of image size, patch size and step."""

from __future__ import annotations

import itertools
import math


def tile_starts(size: int, patch: int, step: float) -> list[int]:
    """Start offsets of the tiles along one axis, as nnU-Net places them.

    ``n = ceil((size - patch) / (patch * step)) + 1`` tiles, spread evenly from 0 to
    ``size - patch`` and rounded to whole voxels.

    Examples:
        >>> tile_starts(200, 112, 0.8)
        [0, 88]
        >>> tile_starts(112, 112, 0.8)
        [0]
    """
    if size < patch:
        raise ValueError(f"size {size} is smaller than the patch {patch}; pad first")
    if not 0 < step <= 1:
        raise ValueError(f"step must be in (0, 1], got {step}")
    n = int(math.ceil((size - patch) / (patch * step))) + 1
    if n == 1:
        return [0]
    spacing = (size - patch) / (n - 1)
    # Python's round() and numpy's both round half to even, as nnU-Net's np.round does.
    return [int(round(spacing * i)) for i in range(n)]


def tile_count(shape: tuple[int, ...], patch: tuple[int, ...], step: float) -> int:
    """How many tiles cover an image of ``shape``; axes shorter than the patch are padded to it.

    Examples:
        >>> tile_count((100, 100, 30), (64, 64, 64), 0.5)  # 3 x 3 x 1
        9
    """
    return math.prod(len(tile_starts(max(s, p), p, step)) for s, p in zip(shape, patch))


def tile_grid(shape: tuple[int, ...], patch: tuple[int, ...], step: float) -> list[tuple[slice, ...]]:
    """All tiles in nnU-Net's order (first axis outermost), as tuples of slices."""
    starts = [tile_starts(s, p, step) for s, p in zip(shape, patch)]
    return [tuple(slice(o, o + p) for o, p in zip(origin, patch)) for origin in itertools.product(*starts)]
