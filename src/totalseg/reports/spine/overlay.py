"""The spine report's pictures: the combined sagittal view, the front page, and the RGB NIfTI.

The combined view follows the official one: every measured vertebra shown on its own chosen
sagittal slice (CT values inside its mask, -1000 HU elsewhere), cropped to the vertebrae plus
40 mm, window -500..1500 HU, anterior on the left, superior up, square millimetres; body outlines
in green, the three height lines in red, and per vertebra its heights (anterior - middle -
posterior, mm), slice and median HU (beside the image, where the official puts them 20 mm
posterior of the centroid), in yellow where a height is below 80 % of the largest or the
body is under 2 ml. We add the Genant grade to the label. Rendering uses Pillow.

The official command saves its front page (an HTML page rendered to PNG) as an RGB NIfTI;
:func:`rgb_nifti` lays out any picture exactly as it does (width + 1 by height + 1 by 1 voxels of
``(R, G, B)`` uint8 records, affine ``diag(-1, -1, 1, 1)``).

Examples:
    >>> import numpy as np
    >>> img = rgb_nifti(np.zeros((20, 30, 3), np.uint8))
    >>> img.shape, img.get_data_dtype().names
    ((31, 21, 1), ('R', 'G', 'B'))
"""

from __future__ import annotations

from collections.abc import Sequence

import nibabel as nib
import numpy as np
from scipy import ndimage

from totalseg.reports.spine.vertebrae import Vertebra

HU_WINDOW = (-500.0, 1500.0)
PADDING_MM = 40.0
LABEL_WIDTH_PX = 420  # labels in a margin posterior of (right of) the image, at each body's height
FRACTURE_RATIO = 0.8  # official: a height below 80 % of the largest is shown in yellow
SMALL_BODY_ML = 2.0
VIEW_HEIGHT_PX = 900
CROP_MM = 80.0  # the official per-vertebra crop
VIEW_PX_PER_MM = 3.0
RGB = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])


def rgb_nifti(picture: np.ndarray) -> nib.Nifti1Image:
    """An RGB picture (rows x columns x 3, uint8) as the official spine report stores its front page."""
    height, width = picture.shape[:2]
    data = np.zeros((width + 1, height + 1, 1, 3), np.uint8)
    data[:width, -height:, 0, :] = picture[..., :3].transpose(1, 0, 2)[::-1, ::-1, :]
    records = data.view(RGB).reshape(data.shape[:-1])[::-1, ::-1, :]
    return nib.Nifti1Image(np.ascontiguousarray(records), np.diag([-1.0, -1.0, 1.0, 1.0]))


def _bounds(labels: np.ndarray, vertebrae: Sequence[Vertebra],
            spacing: Sequence[float]) -> tuple[int, int, int, int] | None:
    ys, zs = [], []
    for v in vertebrae:
        y, z = np.nonzero(labels[v.x_slice] == v.label_id)
        ys.extend(y.tolist())
        zs.extend(z.tolist())
    if not ys:
        return None
    pad_y, pad_z = int(round(PADDING_MM / spacing[1])), int(round(PADDING_MM / spacing[2]))
    return (max(0, min(ys) - pad_y), min(labels.shape[1], max(ys) + pad_y),
            max(0, min(zs) - pad_z), min(labels.shape[2], max(zs) + pad_z))


def sagittal_view(ct: np.ndarray, labels: np.ndarray, vertebrae: Sequence[Vertebra], spacing: Sequence[float],
                  grades: dict[str, int | None] | None = None) -> np.ndarray | None:
    """The combined sagittal picture (rows x columns x 3, uint8), or ``None`` without vertebrae.

    Examples:
        >>> sagittal_view(np.zeros((4, 4, 4)), np.zeros((4, 4, 4), np.uint8), [], (1.0, 1.0, 1.0)) is None
        True
    """
    from PIL import Image, ImageDraw, ImageFont

    bounds = _bounds(labels, vertebrae, spacing)
    if bounds is None:
        return None
    y0, y1, z0, z1 = bounds
    combined = np.full((y1 - y0, z1 - z0), -1000.0, np.float32)
    filled = np.zeros(combined.shape, bool)
    for v in vertebrae:
        mask = (labels[v.x_slice, y0:y1, z0:z1] == v.label_id) & ~filled
        combined[mask] = ct[v.x_slice, y0:y1, z0:z1][mask]
        filled |= mask
    scale = VIEW_HEIGHT_PX / ((z1 - z0) * float(spacing[2]))  # pixels per mm
    size = (max(1, round((y1 - y0) * float(spacing[1]) * scale)), VIEW_HEIGHT_PX)
    grey = np.clip((combined - HU_WINDOW[0]) / (HU_WINDOW[1] - HU_WINDOW[0]) * 255, 0, 255).astype(np.uint8)
    picture = Image.fromarray(_display(grey)).resize(size, Image.Resampling.BILINEAR).convert("RGB")
    for v in vertebrae:
        outline = _outline(_display(labels[v.x_slice, y0:y1, z0:z1] == v.label_id), size)
        picture.paste((0, 200, 0), mask=Image.fromarray(outline.astype(np.uint8) * 255))
    canvas = Image.new("RGB", (size[0] + LABEL_WIDTH_PX, size[1]), "black")
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=15)
    to_px = _to_pixels(bounds, spacing, scale)
    for v in vertebrae:
        for line in v.heights:
            if line.found:
                draw.line([to_px(*line.start), to_px(*line.end)], fill=(230, 30, 30), width=2)
        text, colour = _label(v, (grades or {}).get(v.name), ct.shape[0])
        _, y = to_px(v.centroid[1], v.centroid[2])
        draw.text((size[0] + 8, y), text, fill=colour, font=font, anchor="lm")
    return np.asarray(canvas)


def vertebra_view(ct: np.ndarray, labels: np.ndarray, v: Vertebra, spacing: Sequence[float]) -> np.ndarray:
    """One vertebra on its measured sagittal slice (the CT itself), 80 mm around its centroid, outline
    and height lines drawn, 3 pixels per mm (rows x columns x 3, uint8; anterior left, superior up).

    Examples:
        >>> from totalseg.reports.spine.heights import HeightLine
        >>> lab = np.zeros((5, 20, 20), np.uint8); lab[:, 5:15, 5:15] = 1
        >>> v = Vertebra("vertebrae_L1", 1, (HeightLine("middle", 9.0, (10, 10), (10, 5), (10, 14)),), 2,
        ...              (2.0, 10.0, 10.0), 500.0, 200.0, 200.0)
        >>> vertebra_view(np.zeros((5, 20, 20)), lab, v, (1.0, 1.0, 1.0)).shape
        (60, 60, 3)
    """
    from PIL import Image, ImageDraw

    half_y, half_z = (int(round(CROP_MM / 2 / float(s))) for s in spacing[1:])
    cy, cz = int(round(v.centroid[1])), int(round(v.centroid[2]))
    bounds = (max(0, cy - half_y), min(ct.shape[1], cy + half_y), max(0, cz - half_z), min(ct.shape[2], cz + half_z))
    y0, y1, z0, z1 = bounds
    scale = VIEW_PX_PER_MM
    size = (max(1, round((y1 - y0) * float(spacing[1]) * scale)), max(1, round((z1 - z0) * float(spacing[2]) * scale)))
    plane = np.asarray(ct[v.x_slice, y0:y1, z0:z1], np.float32)
    grey = np.clip((plane - HU_WINDOW[0]) / (HU_WINDOW[1] - HU_WINDOW[0]) * 255, 0, 255).astype(np.uint8)
    picture = Image.fromarray(_display(grey)).resize(size, Image.Resampling.BILINEAR).convert("RGB")
    outline = _outline(_display(labels[v.x_slice, y0:y1, z0:z1] == v.label_id), size)
    picture.paste((0, 200, 0), mask=Image.fromarray(outline.astype(np.uint8) * 255))
    draw = ImageDraw.Draw(picture)
    to_px = _to_pixels(bounds, spacing, scale)
    for line in v.heights:
        if line.found:
            draw.line([to_px(*line.start), to_px(*line.end)], fill=(230, 30, 30), width=2)
    return np.asarray(picture)


def _display(plane: np.ndarray) -> np.ndarray:
    """A (Y, Z) plane as rows = superior to inferior, columns = anterior to posterior."""
    return np.ascontiguousarray(plane.T[::-1, ::-1])


def _outline(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    big = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.NEAREST)) > 0
    return big & ~ndimage.binary_erosion(big, iterations=2)


def _to_pixels(bounds: tuple[int, int, int, int], spacing: Sequence[float], scale: float):
    y0, y1, z0, z1 = bounds

    def to_px(y: float, z: float) -> tuple[float, float]:
        return ((y1 - y0 - 0.5 - (y - y0)) * float(spacing[1]) * scale,
                (z1 - z0 - 0.5 - (z - z0)) * float(spacing[2]) * scale)
    return to_px


def _label(v: Vertebra, grade: int | None, nx: int) -> tuple[str, tuple[int, int, int]]:
    heights = [line.height_mm for line in v.heights]
    positive = [h for h in heights if h > 0]
    ratio = min(positive) / max(positive) if len(positive) >= 2 else 1.0
    loss = round((1 - ratio) * 100)
    short = v.name.replace("vertebrae_", "")
    text = f"{short}: " + " - ".join(f"{h:.1f}" for h in reversed(heights))
    yellow = ratio < FRACTURE_RATIO or v.volume_mm3 / 1000.0 < SMALL_BODY_ML
    if yellow:
        text += f" (-{loss}%)"
    text += f" (x: {nx - 1 - v.x_slice}, HU: {int(round(v.median_hu))})"
    if grade:
        text += f" Genant {grade}"
    return text, (255, 220, 0) if yellow else (255, 255, 255)


def front_page(view: np.ndarray | None, lines: Sequence[str], *, width: int = 1200) -> np.ndarray:
    """The report's front page picture: a title, the findings lines and the sagittal view.

    Examples:
        >>> front_page(None, ["Lumbar spine contains no fracture."]).shape
        (126, 1200, 3)
    """
    from PIL import Image, ImageDraw, ImageFont

    font, title_font = ImageFont.load_default(size=18), ImageFont.load_default(size=28)
    text_h = 60 + 26 * len(lines)
    view_img = Image.fromarray(view) if view is not None else None
    if view_img is not None and view_img.width > width - 40:
        view_img = view_img.resize((width - 40, round(view_img.height * (width - 40) / view_img.width)))
    height = text_h + (view_img.height + 20 if view_img is not None else 40)
    page = Image.new("RGB", (width, height), "black")
    draw = ImageDraw.Draw(page)
    draw.text((20, 12), "Spine report", fill="white", font=title_font)
    for n, line in enumerate(lines):
        draw.text((20, 56 + 26 * n), line, fill="white", font=font)
    if view_img is not None:
        page.paste(view_img, ((width - view_img.width) // 2, text_h))
    else:
        draw.text((20, text_h), "No vertebrae measurements available", fill="white", font=font)
    return np.asarray(page)
