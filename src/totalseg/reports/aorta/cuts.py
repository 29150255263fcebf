"""Plane cuts of the aorta near a centerline point, inside a cube cropped around it (the official way).

Along a stretch of centerline the official report cuts the aorta perpendicular to the centerline at
every point, inside a cube of ``crop_mm`` around the point, and keeps the point whose cut has the
most voxels; that cut's largest diameter is the stretch's maximal diameter. A section of the aorta
is what lies between the cuts at its two ends (the blob nearest its middle).
"""

from __future__ import annotations

import numpy as np

from totalseg.reports.aorta import centerline as cl
from totalseg.reports.chords import major_diameter_mm
from totalseg.reports.sections import closest_blob, plane_cut


def crop_box(shape: tuple[int, ...], zooms, point: np.ndarray, crop_mm: float) -> tuple[slice, ...]:
    """The official crop around ``point``: ``crop_mm / 2`` in whole voxels each side, clipped.

    Examples:
        >>> crop_box((50, 50, 50), (1.0, 1.0, 1.0), np.array([2.0, 25, 49]), 10)
        (slice(0, 7, None), slice(20, 30, None), slice(44, 50, None))
    """
    radius = (np.asarray([crop_mm] * 3) / 2 / np.asarray(zooms[:3])).astype(int)
    return tuple(slice(max(0, int(point[a] - radius[a])), min(shape[a], int(point[a] + radius[a]))) for a in range(3))


def cropped_cut(mask: np.ndarray, affine: np.ndarray, zooms, point: np.ndarray, normal: np.ndarray,
                crop_mm: float) -> tuple[tuple[slice, ...], np.ndarray]:
    """The crop box and the cut of ``mask`` by the plane through ``point`` inside it (uint8).

    Examples:
        >>> m = np.zeros((20, 20, 20), np.uint8); m[5:15, 5:15, :] = 1
        >>> box, cut = cropped_cut(m, np.eye(4), (1.0, 1.0, 1.0), np.array([10, 10, 10.0]), np.array([0, 0, 1.0]), 10)
        >>> box[2], int(cut[:, :, 5].sum())
        (slice(5, 15, None), 100)
    """
    box = crop_box(mask.shape, zooms, point, crop_mm)
    cropped_affine = affine.copy()
    cropped_affine[:3, 3] = (affine @ np.array([b.start for b in box] + [1]))[:3]
    local = (np.linalg.inv(cropped_affine) @ affine @ np.append(point, 1))[:3]
    return box, plane_cut(mask[box].astype(np.uint8), local, normal).astype(np.uint8)


def widest_point(mask: np.ndarray, affine: np.ndarray, zooms, stretch: np.ndarray, crop_mm: float) -> int | None:
    """Index (into ``stretch``) of the point whose perpendicular cut has the most voxels; None if too short.

    Examples:
        >>> m = np.zeros((30, 30, 30), np.uint8); m[10:20, 10:20, :] = 1; m[7:23, 7:23, 20:24] = 1
        >>> line = np.array([[15, 15, z] for z in range(5, 27)], dtype=float)
        >>> int(line[widest_point(m, np.eye(4), (1.0, 1.0, 1.0), line, 24), 2])
        20
    """
    if len(stretch) < 2:
        return None
    areas: dict[tuple, int] = {}
    for idx in range(len(stretch)):
        _, cut = cropped_cut(mask, affine, zooms, stretch[idx], cl.normal_at(stretch, idx), crop_mm)
        areas[tuple(stretch[idx])] = int(cut.sum())
    return cl.index_of(stretch, max(areas, key=areas.get))


def widest_diameter_mm(mask: np.ndarray, affine: np.ndarray, zooms, stretch: np.ndarray, crop_mm: float) -> float:
    """The largest diameter (mm) of the widest perpendicular cut along ``stretch`` (0 if too short).

    Examples:
        >>> m = np.zeros((30, 30, 30), np.uint8); m[10:20, 10:20, :] = 1
        >>> line = np.array([[15, 15, z] for z in range(5, 27)], dtype=float)
        >>> round(widest_diameter_mm(m, np.eye(4), (1.0, 1.0, 1.0), line, 24), 2)
        14.21
    """
    idx = widest_point(mask, affine, zooms, stretch, crop_mm)
    if idx is None:
        return 0.0
    _, cut = cropped_cut(mask, affine, zooms, stretch[idx], cl.normal_at(stretch, idx), crop_mm)
    diameter = major_diameter_mm(cut, np.asarray(zooms[:3]))
    return float(np.float32(diameter or 0.0))


def section_between(mask: np.ndarray, affine: np.ndarray, zooms, path: np.ndarray, start: int, end: int,
                    crop_mm: float) -> np.ndarray:
    """The part of ``mask`` between the cuts at path indices ``start`` and ``end`` (uint8).

    Examples:
        >>> m = np.zeros((20, 20, 40), np.uint8); m[5:15, 5:15, :] = 1
        >>> line = np.array([[10, 10, z] for z in range(40)], dtype=float)
        >>> section = section_between(m, np.eye(4), (1.0, 1.0, 1.0), line, 10, 30, 30)
        >>> np.flatnonzero(section.any(axis=(0, 1)))[[0, -1]].tolist()
        [12, 28]
    """
    section = mask.astype(np.uint8).copy()
    start, end = min(start, end), max(start, end)
    for idx in (start, end):
        box, cut = cropped_cut(mask, affine, zooms, path[idx], cl.normal_at(path, idx), crop_mm)
        section[box][cut > 0] = 0
    middle = path[cl.midpoint_index(path, start, end)]
    return closest_blob(section, middle).astype(np.uint8)
