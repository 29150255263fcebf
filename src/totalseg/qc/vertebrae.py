"""Check 2: vertebrae ordered head to feet without gaps, duplicates or inversions, plausible
distances between neighbours, and ribs at their own thoracic level."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from totalseg.qc.context import QcContext
from totalseg.qc.reference import PITCH_MM, RIB_LEVEL_WINDOW, VERTEBRAE
from totalseg.qc.report import Check

DUPLICATE_SHARE = 0.2  # a second piece with this share of a vertebra's voxels, one level away: duplicate


def check_vertebra_order(ctx: QcContext) -> Check:
    """Inversions, gaps and ribs off their vertebrae's level fail; implausible spacing, a label in
    two places and a vertebra other than S1 just above the sacrum warn.

    Examples:
        >>> import numpy as np
        >>> from totalseg.imaging.volume import LabelVolume, Volume
        >>> lab = np.zeros((4, 4, 60), np.uint8); lab[1:3, 1:3, 40:50] = 1; lab[1:3, 1:3, 10:20] = 2
        >>> ctx = QcContext.build(Volume(lab * 1.0, affine=np.eye(4)), LabelVolume(lab, affine=np.eye(4)),
        ...                       {1: "vertebrae_L2", 2: "vertebrae_L1"}, "ct")
        >>> check_vertebra_order(ctx).status
        'fail'
    """
    present = [v for v in VERTEBRAE if v in ctx.structures]
    if not present:
        return Check("vertebra_order", "ok", "No vertebrae in the segmentation.", {"present": []})
    cents = {v: np.array(ctx.structures[v].centroid_mm) for v in present}
    idx = [VERTEBRAE.index(v) for v in present]
    inversions = [[a, b] for a, b in zip(present, present[1:]) if cents[a][2] <= cents[b][2]]
    gaps = [VERTEBRAE[i] for i in range(idx[0], idx[-1] + 1) if VERTEBRAE[i] not in ctx.structures]
    spacing = _implausible_spacing(present, idx, cents, {v for v in present if ctx.structures[v].cut_off})
    duplicates = _duplicates(ctx, present)
    ribs = _rib_levels(ctx, present, cents) if not inversions else {}
    evidence = {"present": [v.split("_")[1] for v in present], "inversions": inversions, "gaps": gaps,
                "implausible_spacing": spacing, "duplicates": duplicates, **ribs}
    if inversions:
        return Check("vertebra_order", "fail", f"Vertebrae {inversions[0][0]} and {inversions[0][1]} are in the "
                     "wrong head-to-feet order (labels inverted or the image upside down).", evidence)
    if gaps:
        return Check("vertebra_order", "fail", f"{len(gaps)} vertebra label(s) missing inside the covered spine "
                     f"(first: {gaps[0]}).", evidence)
    if ribs.get("rib_level_offset") is not None and not (
            RIB_LEVEL_WINDOW[0] <= ribs["rib_level_offset"] <= RIB_LEVEL_WINDOW[1]):
        return Check("vertebra_order", "fail", f"The rib heads lie {ribs['rib_level_offset']:+.1f} levels from their "
                     f"vertebrae (expected {RIB_LEVEL_WINDOW[0]:+.1f} to {RIB_LEVEL_WINDOW[1]:+.1f}): the vertebra "
                     "labels are probably shifted by a level.", evidence)
    above_sacrum = _above_sacrum(ctx, present)
    evidence["vertebra_above_sacrum"] = above_sacrum
    if above_sacrum not in (None, "vertebrae_S1"):
        return Check("vertebra_order", "warn", f"The vertebra above the sacrum is labelled {above_sacrum}, not S1: "
                     "the labels may be shifted up by a level (or S1 is lumbarized).", evidence)
    if spacing or duplicates:
        what = "implausible distance between neighbours" if spacing else "a vertebra label in two places"
        return Check("vertebra_order", "warn", f"The vertebra labels show {what}.", evidence)
    return Check("vertebra_order", "ok", f"{len(present)} vertebrae in order from {present[0].split('_')[1]} "
                 f"to {present[-1].split('_')[1]}.", evidence)


def _above_sacrum(ctx: QcContext, present: list[str]) -> str | None:
    """The lowest labelled vertebra when the sacrum is labelled whole and lies within one lumbar pitch below it."""
    sacrum = ctx.structures.get("sacrum")
    if sacrum is None or sacrum.cut_off or not present:
        return None
    lowest = ctx.structures[present[-1]]
    gap = lowest.centroid_mm[2] - sacrum.centroid_mm[2]
    return present[-1] if 0 < gap <= 2 * PITCH_MM["L"][1] else None


def _implausible_spacing(present: list[str], idx: list[int], cents: dict, cut: set[str]) -> list[dict]:
    out = []
    for (a, ia), (b, ib) in zip(zip(present, idx), zip(present[1:], idx[1:])):
        if ib != ia + 1 or a in cut or b in cut:
            continue
        low, high = PITCH_MM[b.split("_")[1][0]]
        dist = float(np.linalg.norm(cents[a] - cents[b]))
        if not low <= dist <= high:
            out.append({"pair": [a, b], "distance_mm": round(dist, 1), "range_mm": [low, high]})
    return out


def _duplicates(ctx: QcContext, present: list[str]) -> list[dict]:
    out = []
    for v in present:
        s = ctx.structures[v]
        comps, n = ndimage.label(s.mask(ctx.label_array), structure=np.ones((3, 3, 3)))
        if n < 2:
            continue
        sizes = np.bincount(comps.ravel())[1:]
        second = float(np.sort(sizes)[-2] / sizes.sum())
        if second >= DUPLICATE_SHARE:
            out.append({"vertebra": v, "pieces": int(n), "second_share": round(second, 2)})
    return out


def _rib_levels(ctx: QcContext, present: list[str], cents: dict) -> dict:
    """The median offset (rib head level - rib number) over the ribs, in vertebra levels."""
    levels = np.array([VERTEBRAE.index(v) - 6 for v in present], float)  # T1 -> 1
    zs = np.array([cents[v][2] for v in present])
    offsets = {}
    for side in ("left", "right"):
        for k in range(1, 13):
            name = f"rib_{side}_{k}"
            if name not in ctx.structures or len(present) < 2:
                continue
            head_z = _rib_head_z(ctx, name, np.array([cents[v] for v in present]))
            if head_z is None or not zs.min() <= head_z <= zs.max():
                continue
            offsets[name] = round(float(np.interp(-head_z, -zs, levels)) - k, 2)
    if not offsets:
        return {}
    return {"rib_level_offset": round(float(np.median(list(offsets.values()))), 2), "rib_offsets": offsets}


def _rib_head_z(ctx: QcContext, name: str, spine: np.ndarray) -> float | None:
    """World z of the rib's end nearest the spine (the 5 % of its voxels closest to it in the axial plane)."""
    s = ctx.structures[name]
    vox = np.argwhere(s.mask(ctx.label_array)) + [b.start for b in s.box]
    world = vox @ ctx.labels.affine[:3, :3].T + ctx.labels.affine[:3, 3]
    d = np.min(np.linalg.norm(world[:, None, :2] - spine[None, :, :2], axis=2), axis=1)
    near = d <= np.quantile(d, 0.05)
    return float(world[near, 2].mean()) if near.any() else None
