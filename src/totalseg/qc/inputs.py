"""Check 8: the input image itself: constant or near-empty, padding values under the anatomy,
irregular slice positions, and an orientation matrix that disagrees with the content (head at
the feet's end, front and back swapped)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from totalseg.qc.context import QcContext
from totalseg.qc.report import Check

PADDING_HU = -1200.0  # CT values below air: scanner padding (-2048, -3024, -32768)
PADDING_IN_LABELS = 0.01  # share of labelled voxels on padding -> warn
MIN_CONTENT = 0.005  # share of voxels with content (CT above -500 HU) below this -> near-empty
SPACING_TOLERANCE = 0.05  # relative deviation of a slice step from the median step
_Z_PAIRS = (("brain", "heart"), ("trachea", "heart"), ("lungs", "liver"), ("heart", "liver"),
            ("heart", "kidneys"), ("liver", "urinary_bladder"), ("kidneys", "urinary_bladder"),
            ("kidneys", "hips"), ("lungs", "hips"), ("hips", "femurs"), ("cervical", "lumbar"))
_FRONT = ("heart", "liver", "stomach", "urinary_bladder", "sternum", "trachea")


def check_input(ctx: QcContext, *, slice_positions_mm: Sequence[float] | None = None) -> Check:
    """Fail for a constant or near-empty image or a content orientation opposite to the affine's;
    warn for padding under labels or irregular slice positions (when the reader gives them).

    Examples:
        >>> from totalseg.imaging.volume import LabelVolume, Volume
        >>> ctx = QcContext.build(Volume(np.full((6, 6, 6), -1000.0), affine=np.eye(4)),
        ...                       LabelVolume(np.zeros((6, 6, 6), np.uint8), affine=np.eye(4)), {}, "ct")
        >>> check_input(ctx).status
        'fail'
    """
    image = np.asarray(ctx.image.array, dtype=np.float32)
    labelled = ctx.label_array > 0
    std = float(image.std()) if image.size else 0.0
    content = _content_share(image, ctx.modality)
    padding = image < PADDING_HU if ctx.modality == "ct" else np.zeros(image.shape, bool)
    pad_in_labels = float(padding[labelled].mean()) if labelled.any() else 0.0
    flips = _orientation(ctx)
    irregular = _irregular_steps(slice_positions_mm)
    evidence = {"std": round(std, 2), "content_share": round(content, 4),
                "padding_share": round(float(padding.mean()), 4), "padding_share_in_labels": round(pad_in_labels, 4),
                "spacing_mm": [round(s, 3) for s in ctx.image.spacing_mm], "irregular_slice_steps": irregular, **flips}
    if std < 1.0:
        return Check("input", "fail", f"The image is constant (standard deviation {std:.2f}): there is nothing to "
                     "segment.", evidence)
    if content < MIN_CONTENT:
        return Check("input", "fail", f"The image is nearly empty (content in {content:.2%} of its voxels).", evidence)
    for axis, what in (("head_feet", "the head lies at the feet's end"), ("front_back", "front and back are swapped")):
        if flips[f"{axis}_inverted"]:
            return Check("input", "fail", f"The content disagrees with the orientation matrix: {what} (stored "
                         "flipped without the affine saying so).", evidence)
    if pad_in_labels > PADDING_IN_LABELS:
        return Check("input", "warn", f"{pad_in_labels:.1%} of the labelled voxels hold padding values below "
                     f"{PADDING_HU:g} HU: the reconstruction circle cuts the anatomy.", evidence)
    if irregular:
        return Check("input", "warn", f"{len(irregular)} slice step(s) differ from the median step by over 5 %.",
                     evidence)
    return Check("input", "ok", "The image has content, no padding under the anatomy and an orientation "
                 "that matches it.", evidence)


def _content_share(image: np.ndarray, modality: str) -> float:
    if not image.size:
        return 0.0
    threshold = -500.0 if modality == "ct" else float(np.percentile(image, 99.9)) * 0.1
    return float((image > threshold).mean())


def _centroid(ctx: QcContext, group: str) -> np.ndarray | None:
    names = {"lungs": [n for n in ctx.structures if n.startswith("lung_")],
             "kidneys": ["kidney_left", "kidney_right"], "hips": ["hip_left", "hip_right"],
             "femurs": ["femur_left", "femur_right"],
             "cervical": [n for n in ctx.structures if n.startswith("vertebrae_C")],
             "lumbar": [n for n in ctx.structures if n.startswith("vertebrae_L")],
             "spine": [n for n in ctx.structures if n.startswith("vertebrae_")]}.get(group, [group])
    pts = [ctx.structures[n].centroid_mm for n in names if n in ctx.structures]
    return np.mean(pts, axis=0) if pts else None


def _orientation(ctx: QcContext) -> dict:
    """Pairs of structures with a known head-feet and front-back order, and how many disagree."""
    z_votes = []
    for upper, lower in _Z_PAIRS:
        a, b = _centroid(ctx, upper), _centroid(ctx, lower)
        if a is not None and b is not None and abs(a[2] - b[2]) > 20:
            z_votes.append(bool(a[2] < b[2]))
    y_votes = []
    spine = _centroid(ctx, "spine")
    for name in _FRONT:
        c = _centroid(ctx, name)
        if spine is not None and c is not None and abs(c[1] - spine[1]) > 10:
            y_votes.append(bool(c[1] < spine[1]))
    return {"head_feet_pairs": len(z_votes), "head_feet_inverted": bool(z_votes) and sum(z_votes) > len(z_votes) / 2,
            "front_back_pairs": len(y_votes), "front_back_inverted": bool(y_votes) and sum(y_votes) > len(y_votes) / 2}


def _irregular_steps(positions: Sequence[float] | None) -> list[dict]:
    if positions is None or len(positions) < 3:
        return []
    steps = np.diff(np.sort(np.asarray(positions, float)))
    median = float(np.median(steps))
    return [{"slice": int(i), "step_mm": round(float(s), 3), "median_mm": round(median, 3)}
            for i, s in enumerate(steps) if abs(s - median) > SPACING_TOLERANCE * median]
