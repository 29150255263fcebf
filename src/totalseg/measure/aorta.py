"""Aorta diameter perpendicular to its centerline, from a binary mask.

The centerline is the chain of centroids of the mask's largest blob on each axial slice (the
abdominal aorta runs head to foot, so every axial slice cuts it once), smoothed over +/- 10 mm.
At each slice the tangent of that chain defines a plane perpendicular to the vessel; the mask is
sampled on that plane (linear interpolation of the mask, threshold 0.5, 0.5 mm grid) and the
cross-section through the centerline point is measured: its maximum diameter (largest distance
between two section samples plus half a sample, the Feret diameter) and the diameter of the circle
of equal area. A 3-slice running median of the per-slice maximum removes single-slice spikes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

SAMPLE_MM = 0.5
SMOOTH_MM = 10.0


@dataclass(frozen=True)
class Diameter:
    """The widest perpendicular cross-section found."""

    max_mm: float  # Feret diameter of the cross-section
    equivalent_mm: float  # diameter of the circle of the same area
    slice_index: int  # axial slice (canonical array index) of the centerline point
    n_sections: int  # how many cross-sections were measured


def max_perpendicular_diameter(
    mask: np.ndarray, spacing_mm: tuple[float, float, float], slices: range
) -> Diameter | None:
    """Widest cross-section of ``mask`` (RAS-ordered, bool) over the axial ``slices``.

    Returns ``None`` when fewer than 3 slices hold the vessel.

    Examples:
        >>> import numpy as np
        >>> x, y = np.mgrid[:40, :40]
        >>> tube = np.repeat((((x - 20) ** 2 + (y - 20) ** 2) <= 10 ** 2)[:, :, None], 20, axis=2)
        >>> round(max_perpendicular_diameter(tube, (1.0, 1.0, 1.0), range(20)).max_mm)
        21
    """
    spacing = np.asarray(spacing_mm, dtype=np.float64)
    found = np.argwhere(mask)
    if len(found) == 0:
        return None
    low = np.maximum(found.min(axis=0) - 2, 0)
    high = found.max(axis=0) + 3
    sub = mask[low[0]:high[0], low[1]:high[1], low[2]:high[2]]
    wanted = range(max(slices.start - low[2], 0), min(slices.stop - low[2], sub.shape[2]))
    points = _centerline(sub, wanted, spacing)
    if len(points) < 3:
        return None
    centres_mm = np.array([p[:3] for p in points], dtype=np.float64) * spacing
    tangents = _tangents(centres_mm, window=max(1, int(round(SMOOTH_MM / spacing[2]))))
    sampled = sub.astype(np.float32)
    results = [_cross_section(sampled, spacing, c, t, radius_mm=p[3] + 3.0)
               for c, t, p in zip(centres_mm, tangents, points)]
    max_mm = np.array([r[0] for r in results])
    smooth = ndimage.median_filter(max_mm, size=3, mode="nearest")
    best = int(np.argmax(smooth))
    return Diameter(float(smooth[best]), float(results[best][1]), int(points[best][2]) + int(low[2]), len(results))


def _centerline(mask: np.ndarray, slices: range, spacing: np.ndarray) -> list[tuple[float, float, int, float]]:
    """(x, y, z, radius in mm) per slice: the largest blob's centroid and its farthest voxel."""
    points = []
    for z in slices:
        plane = mask[:, :, z]
        if not plane.any():
            continue
        blobs, n = ndimage.label(plane)
        if n > 1:
            sizes = ndimage.sum_labels(plane, blobs, index=np.arange(1, n + 1))
            plane = blobs == 1 + int(np.argmax(sizes))
        cx, cy = ndimage.center_of_mass(plane)
        xy = np.argwhere(plane)
        reach = float(np.sqrt((((xy - (cx, cy)) * spacing[:2]) ** 2).sum(axis=1)).max())
        points.append((cx, cy, z, reach))
    return points


def _tangents(centres_mm: np.ndarray, window: int) -> np.ndarray:
    """Unit tangents of a smoothed polyline (moving average of +/- ``window`` points)."""
    kernel = np.ones(2 * window + 1) / (2 * window + 1)
    padded = np.pad(centres_mm, ((window, window), (0, 0)), mode="edge")
    smooth = np.stack([np.convolve(padded[:, a], kernel, mode="valid") for a in range(3)], axis=1)
    step = np.gradient(smooth, axis=0)
    step[np.linalg.norm(step, axis=1) == 0] = (0.0, 0.0, 1.0)
    return step / np.linalg.norm(step, axis=1, keepdims=True)


def _cross_section(sampled: np.ndarray, spacing: np.ndarray, centre: np.ndarray, tangent: np.ndarray, *,
                   radius_mm: float):
    """(Feret diameter, equal-area diameter) in mm of the section through ``centre``."""
    u = np.cross(tangent, (1.0, 0.0, 0.0) if abs(tangent[0]) < 0.9 else (0.0, 1.0, 0.0))
    u /= np.linalg.norm(u)
    v = np.cross(tangent, u)
    # The axial section of a tube contains its perpendicular one: its reach bounds the plane.
    offsets = np.arange(-radius_mm, radius_mm + SAMPLE_MM / 2, SAMPLE_MM)
    a, b = np.meshgrid(offsets, offsets, indexing="ij")
    world = centre + a[..., None] * u + b[..., None] * v
    coords = (world / spacing).reshape(-1, 3).T
    inside = ndimage.map_coordinates(sampled, coords, order=1, mode="constant", cval=0.0).reshape(a.shape) >= 0.5
    blobs, n = ndimage.label(inside)
    if n == 0:
        return 0.0, 0.0
    mid = len(offsets) // 2
    label = blobs[mid, mid]
    if label == 0:  # centroid of a curved section can fall outside it: take the nearest blob
        dist = ndimage.distance_transform_edt(blobs == 0, return_indices=True)[1]
        label = blobs[dist[0][mid, mid], dist[1][mid, mid]]
    section = np.argwhere(blobs == label) * SAMPLE_MM
    area = len(section) * SAMPLE_MM**2
    return _feret(section) + SAMPLE_MM / 2, 2.0 * np.sqrt(area / np.pi)


def _feret(points: np.ndarray) -> float:
    if len(points) < 3:
        return 0.0
    try:
        hull = points[ConvexHull(points).vertices]
    except QhullError:  # collinear samples
        hull = points
    diff = hull[:, None, :] - hull[None, :, :]
    return float(np.sqrt((diff**2).sum(-1)).max())
