"""Vertebral body heights on one sagittal slice, as the official spine report measures them.

The official ``totalseg_spine_report`` (TotalSegmentator 2.18.0) walks straight lines through a 2-D
body mask (a sagittal slice, axes Y = posterior->anterior and Z = inferior->superior in RAS voxel
order) in half-voxel steps and reads the mask with bilinear weights: a point is inside where the
weighted mask value exceeds 0.5. A line's end is the last point found inside before the first point
outside. The horizontal line through the body's centroid (perpendicular to the spine's height axis in
millimetres) gives the body's depth; at 15 %, 50 % and 85 % of it (posterior, middle, anterior) a line
along the height axis gives the three heights.

Examples:
    >>> import numpy as np
    >>> mask = np.zeros((20, 20), bool); mask[5:15, 4:16] = True   # 10 voxels deep, 12 high
    >>> lines = three_heights(mask, centre_yz=(9.5, 9.5), height_axis_yz=(0.0, -1.0),
    ...                       horizontal_axis_yz=(1.0, 0.0), spacing_yz=(1.0, 1.0))
    >>> [(line.position, line.height_mm) for line in lines]
    [('posterior', 11.0), ('middle', 11.0), ('anterior', 11.0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

STEP_VOXELS = 0.5  # the official ray-marching step
# the official measurement points along the body's depth, from its posterior end
POSITIONS: tuple[tuple[str, float], ...] = (("posterior", 0.15), ("middle", 0.5), ("anterior", 0.85))

Point = tuple[float, float]


@dataclass(frozen=True)
class HeightLine:
    """One measured height: its position name, length in mm (0.0 where no line was found), the
    point on the depth line it starts from and its two ends (voxel coordinates (y, z) of the slice)."""

    position: str
    height_mm: float
    point: Point | None = None
    start: Point | None = None
    end: Point | None = None

    @property
    def found(self) -> bool:
        return self.start is not None and self.end is not None


def inside(mask: np.ndarray, y: float, z: float) -> bool:
    """Whether the bilinearly weighted mask value at (y, z) exceeds 0.5 (neighbours outside the
    slice do not count, and their weight is left out of the total).

    Examples:
        >>> m = np.zeros((3, 3), bool); m[1, 1] = True
        >>> inside(m, 1.0, 1.0), inside(m, 1.4, 1.0), inside(m, 1.6, 1.0)
        (True, True, False)
    """
    if not (0 <= y < mask.shape[0] and 0 <= z < mask.shape[1]):
        return False
    y0, z0 = int(y), int(z)
    fy, fz = y - y0, z - z0
    value, weight_sum = 0, 0
    for dy in (0, 1):
        for dz in (0, 1):
            ny, nz = y0 + dy, z0 + dz
            if ny < mask.shape[0] and nz < mask.shape[1]:
                weight = (1 - abs(dy - fy)) * (1 - abs(dz - fz))
                value += mask[ny, nz] * weight
                weight_sum += weight
    return bool(value > 0.5) if weight_sum > 0 else False


def line_ends(mask: np.ndarray, centre: Point, axis: Point) -> tuple[Point | None, Point | None]:
    """The two ends of the line through ``centre`` along ``axis`` (any length) inside ``mask``:
    first towards ``-axis``, then towards ``+axis``; ``None`` for a side without one.

    Examples:
        >>> m = np.zeros((10, 10), bool); m[2:8, 3:6] = True
        >>> line_ends(m, (4.0, 4.0), (1.0, 0.0))
        ((2.0, 4.0), (7.0, 4.0))
    """
    if not np.any(mask):
        return None, None
    length = np.sqrt(axis[0] ** 2 + axis[1] ** 2)
    if length == 0:
        return None, None
    unit = (axis[0] / length, axis[1] / length)
    reach = max(mask.shape) * 1.5
    return _end(mask, centre, unit, -1, reach), _end(mask, centre, unit, 1, reach)


def _end(mask: np.ndarray, centre: Point, unit: Point, direction: int, reach: float) -> Point | None:
    """March from ``centre`` in half-voxel steps to the first point outside; then the first inside
    point of the quarter steps from the previous step on (the official back-off)."""
    for step in np.arange(STEP_VOXELS, reach, STEP_VOXELS):
        if inside(mask, centre[0] + direction * unit[0] * step, centre[1] + direction * unit[1] * step):
            continue
        for back in np.arange(step - STEP_VOXELS, step, STEP_VOXELS / 4):
            y, z = centre[0] + direction * unit[0] * back, centre[1] + direction * unit[1] * back
            if inside(mask, y, z):
                return (float(y), float(z))
        return None
    return None


def three_heights(mask: np.ndarray, *, centre_yz: Point, height_axis_yz: Point, horizontal_axis_yz: Point,
                  spacing_yz: Sequence[float], horizontal_mask: np.ndarray | None = None) -> tuple[HeightLine, ...]:
    """The posterior, middle and anterior heights of the body ``mask`` (a 2-D sagittal slice).

    Args:
        mask: the body's voxels on the slice (Y, Z), boolean.
        centre_yz: the body's centroid (voxel coordinates) the depth line goes through.
        height_axis_yz: the spine's direction on the slice (voxel units, any length).
        horizontal_axis_yz: the depth direction, posterior to anterior (voxel units).
        spacing_yz: voxel sizes in mm along Y and Z (the official keeps the header's float32).
        horizontal_mask: the mask the depth line is measured on (default ``mask``).

    Returns:
        Three :class:`HeightLine` (posterior, middle, anterior); all three with ``height_mm`` 0.0
        where the depth line has no two ends, one with 0.0 where its height line has none.
    """
    depth_start, depth_end = line_ends(mask if horizontal_mask is None else horizontal_mask, centre_yz,
                                       horizontal_axis_yz)
    if depth_start is None or depth_end is None:
        return tuple(HeightLine(name, 0.0) for name, _ in POSITIONS)
    lines = []
    for name, fraction in POSITIONS:
        point = (depth_start[0] + fraction * (depth_end[0] - depth_start[0]),
                 depth_start[1] + fraction * (depth_end[1] - depth_start[1]))
        start, end = line_ends(mask, point, height_axis_yz)
        if start is None or end is None:
            lines.append(HeightLine(name, 0.0, point))
            continue
        dy_mm = (end[0] - start[0]) * spacing_yz[0]
        dz_mm = (end[1] - start[1]) * spacing_yz[1]
        lines.append(HeightLine(name, float(np.sqrt(dy_mm ** 2 + dz_mm ** 2)), point, start, end))
    return tuple(lines)


def height_loss_percent(heights: Sequence[float]) -> int:
    """The official height difference: ``round((1 - min / max) * 100)`` over the positive heights,
    0 with fewer than two.

    Examples:
        >>> height_loss_percent([24.0, 27.0, 18.0]), height_loss_percent([0.0, 20.0, 0.0])
        (33, 0)
    """
    positive = [h for h in heights if h > 0]
    if len(positive) < 2 or max(positive) == 0:
        return 0
    return round((1 - min(positive) / max(positive)) * 100)


def height_loss_fraction(heights: Sequence[float]) -> float | None:
    """``1 - min / max`` over the positive heights, unrounded; ``None`` with fewer than two.

    Examples:
        >>> round(height_loss_fraction([24.0, 27.0, 18.0]), 4)
        0.3333
    """
    positive = [h for h in heights if h > 0]
    if len(positive) < 2:
        return None
    return 1.0 - min(positive) / max(positive)
