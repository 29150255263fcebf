"""``preview.png``: axial, coronal and sagittal slices with coloured mask overlays and a legend.

Slices go through the point where the segmentation is densest along each axis, shown in
radiological convention (patient right on the viewer's left, anterior up in the axial view),
with square pixels in mm. Colours are the official ones from the SNOMED table where it has the
structure. Rendering uses Pillow (installed with totalseg).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from totalseg.imaging.orientation import to_canonical
from totalseg.imaging.volume import Volume
from totalseg.io.atomic import atomic_path

PANEL_SIZE = 400  # pixels for the longest side of the volume (mm scale shared by all views)
CT_WINDOW_HU = (-250.0, 350.0)  # wide soft-tissue window: organs, vessels and bone all readable
ALPHA = 0.45
LEGEND_ROW = 18
LEGEND_COLUMN = 210


def render_preview(image: Volume, labels: Volume, classes: Mapping[int, str], path: str | os.PathLike, *,
                   modality: str = "ct", title: str | None = None) -> Path:
    """Write a PNG of three orthogonal slices with overlays and a legend of the structures shown.

    Examples:
        >>> import numpy as np, tempfile, pathlib
        >>> from totalseg.imaging.volume import LabelVolume
        >>> img = Volume(np.zeros((20, 20, 20), np.int16), affine=np.eye(4))
        >>> lab = np.zeros((20, 20, 20), np.uint8); lab[5:15, 5:15, 5:15] = 5
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "preview.png"
        >>> render_preview(img, LabelVolume(lab, affine=img.affine), {5: "liver"}, out).stat().st_size > 0
        True
    """
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow is a core dependency
        raise ImportError("the preview needs Pillow: pip install pillow") from exc
    ras, _ = to_canonical(image)
    ras_labels, _ = to_canonical(labels.with_data(np.asarray(labels.array), affine=image.affine))
    image_array, lab = np.asarray(ras.array), np.asarray(ras_labels.array)
    window = _window_limits(image_array, modality)
    colours = _colour_table(classes, int(max(classes, default=0)))
    px_per_mm = PANEL_SIZE / max(n * s for n, s in zip(lab.shape, ras.spacing_mm))
    panels = [_panel(image_array, window, lab, colours, ras.spacing_mm, view, px_per_mm)
              for view in ("axial", "coronal", "sagittal")]
    shown = sorted({int(v) for _, ids in panels for v in ids if v in classes})
    canvas = _compose([p for p, _ in panels], [(classes[i], tuple(colours[i])) for i in shown], title, Image)
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
    return Path(path)


def _window_limits(array: np.ndarray, modality: str) -> tuple[float, float]:
    """The grey window: fixed HU for CT, 1st-99th percentile (of every 2nd voxel) for MR."""
    if modality == "ct":
        return CT_WINDOW_HU
    low, high = (float(v) for v in np.percentile(array[::2, ::2, ::2], (1, 99)))
    return low, max(high, low + 1.0)


def _grey(plane: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    low, high = window
    return (np.clip((plane.astype(np.float32) - low) / (high - low), 0, 1) * 255).astype(np.uint8)


def _colour_table(classes: Mapping[int, str], max_id: int) -> np.ndarray:
    from totalseg.anatomy.snomed import structure_codes

    table = np.zeros((max(max_id, 255) + 1, 3), dtype=np.uint8)
    for i, name in classes.items():
        table[i] = structure_codes(name).rgb
    return table


def _slice_index(lab: np.ndarray, axis: int) -> int:
    counts = (lab > 0).sum(axis=tuple(a for a in range(3) if a != axis))
    return int(np.argmax(counts)) if counts.any() else lab.shape[axis] // 2


def _panel(image, window, lab, colours, spacing, view, px_per_mm):
    """One view as an RGB array with square mm pixels, and the label ids it shows."""
    from PIL import Image

    axis = {"sagittal": 0, "coronal": 1, "axial": 2}[view]
    k = _slice_index(lab, axis)
    take = [slice(None)] * 3
    take[axis] = k
    # Only the shown plane is windowed: no float copy of the whole volume.
    g, m = _grey(image[tuple(take)], window).T[::-1, ::-1], lab[tuple(take)].T[::-1, ::-1]  # rows: y/z down; cols R->L
    rgb = np.repeat(g[..., None], 3, axis=2).astype(np.float32)
    over = m > 0
    rgb[over] = (1 - ALPHA) * rgb[over] + ALPHA * colours[m[over]]
    col_mm, row_mm = [s for a, s in enumerate(spacing) if a != axis]
    size = (max(1, round(m.shape[1] * col_mm * px_per_mm)), max(1, round(m.shape[0] * row_mm * px_per_mm)))
    picture = Image.fromarray(rgb.astype(np.uint8), "RGB").resize(size, Image.Resampling.BILINEAR)
    return np.asarray(picture), np.unique(m)


def _compose(panels, legend, title, Image):
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=13)
    gap, top = 8, 24
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) + 1)
    per_column = max(1, (width - gap) // LEGEND_COLUMN)
    rows = -(-len(legend) // per_column)
    height = max(p.shape[0] for p in panels)
    canvas = Image.new("RGB", (width, top + height + gap + rows * LEGEND_ROW + gap), "black")
    draw = ImageDraw.Draw(canvas)
    draw.text((gap, 5), title or "axial | coronal | sagittal", fill="white", font=font)
    x = gap
    for panel in panels:
        canvas.paste(Image.fromarray(panel), (x, top))
        x += panel.shape[1] + gap
    y0 = top + height + gap
    for n, (name, rgb) in enumerate(legend):
        cx, cy = gap + (n % per_column) * LEGEND_COLUMN, y0 + (n // per_column) * LEGEND_ROW
        draw.rectangle((cx, cy + 2, cx + 12, cy + 14), fill=rgb)
        draw.text((cx + 18, cy), name, fill="white", font=font)
    return canvas
