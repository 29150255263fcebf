"""Slices for display: plane extraction in radiological orientation, windowing, label overlays.

Arrays arrive in RAS+ (X, Y, Z) order. Every plane is shown as radiologists read it: axial seen
from the feet (patient's right on the image's left, anterior up), coronal from the front,
sagittal from the patient's right (anterior on the left); superior is up.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable

import numpy as np

PLANES = ("axial", "coronal", "sagittal")
_AXIS = {"axial": 2, "coronal": 1, "sagittal": 0}

WINDOWS: dict[str, tuple[float, float]] = {
    "Soft tissue": (40.0, 400.0),
    "Lung": (-600.0, 1500.0),
    "Bone": (400.0, 1800.0),
    "Brain": (40.0, 80.0),
}
"""Window presets as (level, width) in HU."""


def plane_axis(plane: str) -> int:
    """The (X, Y, Z) axis a plane's slider moves along."""
    return _AXIS[plane]


def plane_slice(array_xyz: np.ndarray, plane: str, index: int) -> np.ndarray:
    """The 2-D slice ``index`` of ``plane`` in display orientation (rows top to bottom).

    Examples:
        >>> a = np.zeros((4, 5, 6)); a[3, 0, 5] = 1   # far right, posterior, superior
        >>> np.argwhere(plane_slice(a, "coronal", 0)).tolist()  # top row, left column
        [[0, 0]]
    """
    axis = _AXIS[plane]
    section = np.take(array_xyz, index, axis=axis)
    return section.T[::-1, ::-1]


def pixel_spacing(spacing_xyz: tuple[float, float, float], plane: str) -> tuple[float, float]:
    """(row, column) spacing in mm of a plane's display image."""
    x, y, z = spacing_xyz
    return {"axial": (y, x), "coronal": (z, x), "sagittal": (z, y)}[plane]


def pixel_to_voxel(plane: str, index: int, row: int, col: int, shape_xyz: tuple[int, ...]) -> tuple[int, int, int]:
    """The (X, Y, Z) voxel under display pixel (row, col) of slice ``index`` of ``plane``.

    Examples:
        >>> pixel_to_voxel("axial", 2, 0, 0, (4, 5, 6))
        (3, 4, 2)
    """
    nx, ny, nz = shape_xyz
    if plane == "axial":
        return nx - 1 - col, ny - 1 - row, index
    if plane == "coronal":
        return nx - 1 - col, index, nz - 1 - row
    return index, ny - 1 - col, nz - 1 - row


def voxel_to_pixel(plane: str, voxel: tuple[int, int, int], shape_xyz: tuple[int, ...]) -> tuple[int, int]:
    """Display (row, col) of a voxel in its slice of ``plane`` (the inverse of :func:`pixel_to_voxel`)."""
    (x, y, z), (nx, ny, nz) = voxel, shape_xyz
    if plane == "axial":
        return ny - 1 - y, nx - 1 - x
    if plane == "coronal":
        return nz - 1 - z, nx - 1 - x
    return nz - 1 - z, ny - 1 - y


def apply_window(section: np.ndarray, level: float, width: float) -> np.ndarray:
    """Grey levels (uint8) of ``section`` in the window ``level`` +- ``width``/2.

    Examples:
        >>> apply_window(np.array([-1000, 40, 1000]), 40, 400).tolist()
        [0, 128, 255]
    """
    low = level - width / 2
    scaled = (section.astype(np.float32) - low) * (255.0 / max(width, 1e-6))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def auto_window(array: np.ndarray) -> tuple[float, float]:
    """A (level, width) covering the 1st to 99th intensity percentile (for MR and unknown scales)."""
    sample = array[:: max(1, array.shape[0] // 64), :: max(1, array.shape[1] // 64)]
    low, high = np.percentile(sample, [1, 99])
    return float((low + high) / 2), float(max(high - low, 1.0))


def label_colors(n: int) -> np.ndarray:
    """(n + 1, 3) uint8 colours: row 0 black (background), then well separated hues (golden ratio).

    Examples:
        >>> label_colors(2).shape, label_colors(2)[0].tolist()
        ((3, 3), [0, 0, 0])
    """
    colors = np.zeros((n + 1, 3), dtype=np.uint8)
    for i in range(1, n + 1):
        hue = (i * 0.618033988749895) % 1.0
        colors[i] = np.array(colorsys.hsv_to_rgb(hue, 0.75, 1.0)) * 255
    return colors


def overlay(grey: np.ndarray, labels: np.ndarray | None, colors: np.ndarray, visible: Iterable[int],
            opacity: float) -> np.ndarray:
    """An RGB uint8 image: ``grey`` with the ``visible`` labels blended in at ``opacity``.

    Examples:
        >>> rgb = overlay(np.zeros((1, 2), np.uint8), np.array([[0, 1]]), label_colors(1), [1], 1.0)
        >>> rgb[0, 1].tolist() == label_colors(1)[1].tolist(), rgb[0, 0].tolist()
        (True, [0, 0, 0])
    """
    rgb = np.repeat(grey[..., None], 3, axis=2).astype(np.float32)
    if labels is not None and opacity > 0:
        shown = np.zeros(len(colors), dtype=bool)
        ids = [i for i in visible if 0 < i < len(colors)]
        shown[ids] = True
        mask = shown[labels]
        rgb[mask] = (1 - opacity) * rgb[mask] + opacity * colors[labels[mask]]
    return np.rint(rgb).astype(np.uint8)


def scale_for_display(rgb: np.ndarray, spacing_rc: tuple[float, float], width_px: int) -> np.ndarray:
    """Resize (nearest neighbour) to ``width_px`` columns with square millimetres on screen."""
    rows, cols = rgb.shape[:2]
    height_px = max(1, round(width_px * rows * spacing_rc[0] / (cols * spacing_rc[1])))
    r = np.minimum((np.arange(height_px) * rows / height_px).astype(int), rows - 1)
    c = np.minimum((np.arange(width_px) * cols / width_px).astype(int), cols - 1)
    return rgb[r][:, c]


def draw_crosshair(rgb: np.ndarray, row: int, col: int, color=(255, 220, 0)) -> np.ndarray:
    """A copy of ``rgb`` with a dotted crosshair through (row, col)."""
    out = rgb.copy()
    out[row, ::3] = color
    out[::3, col] = color
    return out
