"""The L3 slice as a PNG: soft-tissue window, compartments in colour, radiological convention."""

from __future__ import annotations

import io

import numpy as np

from totalseg.reports.body_composition.areas import Compartments

WINDOW_HU = (-200.0, 250.0)
ALPHA = 0.5
WIDTH_PX = 512
COLOURS = {  # compartment -> RGB, and the legend text
    "muscle": ((220, 40, 40), "skeletal muscle"),
    "visceral_fat": ((250, 200, 0), "visceral fat"),
    "subcutaneous_fat": ((0, 170, 230), "subcutaneous fat"),
    "intermuscular_fat": ((60, 200, 90), "intermuscular fat"),
}


def slice_png(hu: np.ndarray, parts: Compartments, spacing_mm: tuple[float, float]) -> bytes:
    """PNG bytes of one axial slice ``hu`` (X, Y in RAS) with the compartments overlaid.

    Rows run anterior to posterior and columns patient right to left (radiological convention);
    pixels are resized to square millimetres.

    Examples:
        >>> from totalseg.reports.body_composition.areas import compartments
        >>> hu = np.zeros((20, 10)); none = np.zeros((20, 10), bool)
        >>> png = slice_png(hu, compartments(hu, none, none, none, none, pixel_mm2=1.0), (1.0, 2.0))
        >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    from PIL import Image, ImageDraw

    low, high = WINDOW_HU
    grey = np.clip((hu.astype(np.float32) - low) / (high - low), 0, 1) * 255
    rgb = np.repeat(grey[..., None], 3, axis=2)
    for name, (colour, _) in COLOURS.items():
        mask = getattr(parts, name)
        rgb[mask] = (1 - ALPHA) * rgb[mask] + ALPHA * np.array(colour, np.float32)
    shown = rgb.transpose(1, 0, 2)[::-1, ::-1].astype(np.uint8)  # rows: anterior first; cols: right first
    height_mm, width_mm = hu.shape[1] * spacing_mm[1], hu.shape[0] * spacing_mm[0]
    size = (WIDTH_PX, max(1, round(WIDTH_PX * height_mm / width_mm)))
    picture = Image.fromarray(np.ascontiguousarray(shown), "RGB").resize(size, Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (size[0], size[1] + 22), "black")
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    x = 6
    for colour, label in COLOURS.values():
        draw.rectangle((x, size[1] + 6, x + 10, size[1] + 16), fill=colour)
        draw.text((x + 14, size[1] + 5), label, fill="white")
        x += 20 + 7 * len(label)
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()
