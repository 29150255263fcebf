"""Key-slice pictures of the pulmonary report: each landmark's rotated cross-section on the CT, its
outline and the two diameters, as PNG bytes (Pillow; the official report draws the same with
matplotlib, CT window -700 to 1000 HU).

Examples:
    >>> ct = np.full((20, 20), 300.0); mask = np.zeros((20, 20), np.uint8); mask[5:15, 5:15] = 1
    >>> png = slice_png(ct, mask, [[5, 5, 0], [14, 14, 0], [5, 14, 0], [14, 5, 0]])
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

WINDOW_HU = (-700.0, 1000.0)
_SCALE = 4
_OUTLINE = (255, 140, 0)
_DIAMETER = (220, 40, 40)
_PERPENDICULAR = (40, 140, 255)


def slice_png(ct: np.ndarray, mask: np.ndarray, ends: Sequence[Sequence[int]] | None) -> bytes:
    """The slice (first array axis across, second down) enlarged 4x, the mask's outline in orange, the
    largest diameter in red and the perpendicular one in blue (``ends``: start, end, start_pd, end_pd
    voxel indices, or None)."""
    low, high = WINDOW_HU
    grey = (np.clip((np.asarray(ct, dtype=np.float64) - low) / (high - low), 0, 1) * 255).astype(np.uint8).T
    rgb = np.repeat(grey[..., None], 3, axis=2)
    inside = np.asarray(mask).T > 0
    rgb[inside & ~ndimage.binary_erosion(inside)] = _OUTLINE
    image = Image.fromarray(rgb).resize((rgb.shape[1] * _SCALE, rgb.shape[0] * _SCALE), Image.NEAREST)
    if ends is not None:
        draw = ImageDraw.Draw(image)
        for (a, b), colour in (((ends[0], ends[1]), _DIAMETER), ((ends[2], ends[3]), _PERPENDICULAR)):
            draw.line([_pixel(a), _pixel(b)], fill=colour, width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _pixel(index: Sequence[int]) -> tuple[float, float]:
    return ((index[0] + 0.5) * _SCALE, (index[1] + 0.5) * _SCALE)
