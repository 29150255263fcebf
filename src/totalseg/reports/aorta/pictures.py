"""Key pictures of the aorta report as PNG bytes: each landmark's flat cross-section and an overview."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from totalseg.reports.aorta.oblique import FlatSection

CT_WINDOW = (-700.0, 1000.0)  # the official report's display window (HU)
SCALE = 4  # pixels per voxel in the cross-section pictures


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _grey(ct: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    if ct is None:
        return np.full(shape + (3,), 40, np.uint8)
    low, high = CT_WINDOW
    grey = (np.clip((ct - low) / (high - low), 0, 1) * 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def section_png(section: FlatSection, measured: dict) -> bytes:
    """The flattened cross-section: CT, aorta outline (red), false lumen outline (yellow), diameters.

    Examples:
        >>> s = FlatSection(np.pad(np.ones((6, 6), np.uint8), 2), np.zeros((10, 10), np.uint8),
        ...                 np.zeros((10, 10), np.uint8), None, np.array([1.0, 1.0]), 0, np.eye(4))
        >>> section_png(s, {"start_voxel": [2, 2, 0], "end_voxel": [7, 7, 0]})[:4]
        b'\\x89PNG'
    """
    rgb = _grey(section.ct, section.cut.shape)
    for mask, colour in ((section.cut, (230, 40, 40)), (section.false_lumen, (240, 220, 0))):
        edge = np.logical_xor(mask > 0, ndimage.binary_erosion(mask > 0))
        rgb[edge] = colour
    # array axes (i, j) -> picture (x, y) with the first axis to the right
    image = Image.fromarray(np.transpose(rgb, (1, 0, 2))[::-1]).resize(
        (rgb.shape[0] * SCALE, rgb.shape[1] * SCALE), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    height = rgb.shape[1]
    lines = (("start_voxel", "end_voxel", (60, 220, 60)), ("start_pd_voxel", "end_pd_voxel", (60, 200, 255)))
    for a, b, colour in lines:
        if measured.get(a) and measured.get(b):
            ends = [((p[0] + 0.5) * SCALE, (height - 1 - p[1] + 0.5) * SCALE) for p in (measured[a], measured[b])]
            draw.line(ends, fill=colour, width=2)
    return _png(image)


def overview_png(aorta: np.ndarray, path: np.ndarray, marks: dict[int, int]) -> bytes:
    """A coronal projection of the aorta with its centerline and the landmark numbers (head up).

    Examples:
        >>> aorta = np.zeros((10, 10, 30), np.uint8); aorta[3:7, 3:7, 2:28] = 1
        >>> overview_png(aorta, np.array([[5, 5, z] for z in range(2, 28)], dtype=float), {9: 10})[:4]
        b'\x89PNG'
    """
    projection = aorta.max(axis=1).astype(np.uint8)  # (x, z)
    rgb = np.where(projection[..., None] > 0, np.array([200, 90, 90], np.uint8), np.array([20, 20, 20], np.uint8))
    for x, _, z in np.round(path).astype(int):
        rgb[min(max(x, 0), rgb.shape[0] - 1), min(max(z, 0), rgb.shape[1] - 1)] = (255, 255, 255)
    scale = 2
    # patient's right on the picture's left (radiological view): the first axis (x, R->L) runs left to right
    image = Image.fromarray(np.transpose(rgb, (1, 0, 2))[::-1]).resize(
        (rgb.shape[0] * scale, rgb.shape[1] * scale), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    for number, index in marks.items():
        x, _, z = path[index]
        px, py = x * scale, (rgb.shape[1] - 1 - z) * scale
        draw.ellipse([px - 4, py - 4, px + 4, py + 4], outline=(255, 230, 0), width=2)
        draw.text((px + 6, py - 6), str(number), fill=(255, 230, 0))
    return _png(image)
