"""Check 6: mean intensity per structure against its tissue's HU range (CT); relative order on MR."""

from __future__ import annotations

from totalseg.qc.context import QcContext
from totalseg.qc.reference import LUNG_LOBES, TISSUE_HU, tissue_of
from totalseg.qc.report import Check

SEVERE_HU = 150.0  # this far outside the range: fail
MIN_VOXELS = 20  # fewer voxels: the mean is too noisy to judge


def check_intensities(ctx: QcContext) -> Check:
    """CT: warn for a mean HU outside the tissue range, fail 150 HU beyond it. MR: lungs must be
    darker than the liver and muscles.

    Examples:
        >>> import numpy as np
        >>> from totalseg.imaging.volume import LabelVolume, Volume
        >>> lab = np.zeros((8, 8, 8), np.uint8); lab[2:6, 2:6, 2:6] = 1
        >>> ctx = QcContext.build(Volume(np.full((8, 8, 8), -800.0), affine=np.eye(4)),
        ...                       LabelVolume(lab, affine=np.eye(4)), {1: "vertebrae_L1"}, "ct")
        >>> check_intensities(ctx).status
        'fail'
    """
    if ctx.modality != "ct":
        return _relative_mr(ctx)
    out, status, blood = [], "ok", None
    for name, s in ctx.structures.items():
        tissue = tissue_of(name)
        if tissue is None or s.voxels < MIN_VOXELS:
            continue
        low, high, source = TISSUE_HU[tissue]
        if name == "aorta":
            blood = "with contrast" if s.mean_intensity > 100 else "without contrast"
        if not low <= s.mean_intensity <= high:
            severe = s.mean_intensity < low - SEVERE_HU or s.mean_intensity > high + SEVERE_HU
            status = "fail" if severe or status == "fail" else "warn"
            out.append({"structure": name, "mean_hu": round(s.mean_intensity, 1), "tissue": tissue,
                        "range_hu": [low, high], "source": source})
    evidence = {"outside_range": out, "blood": blood}
    if out:
        return Check("intensities", status, f"{len(out)} structure(s) have a mean HU outside their tissue's range "
                     f"(first: {out[0]['structure']} {out[0]['mean_hu']} HU): labels off the anatomy or a non-CT "
                     "image.",
                     evidence)
    return Check("intensities", "ok", "Every structure's mean HU fits its tissue"
                 + (f"; blood {blood}." if blood else "."), evidence)


def _relative_mr(ctx: QcContext) -> Check:
    s = ctx.structures
    lungs = [s[n].mean_intensity for n in LUNG_LOBES if n in s]
    others = {n: s[n].mean_intensity for n in ("liver", "autochthon_left", "autochthon_right") if n in s}
    if not lungs or not others:
        return Check("intensities", "ok", "MR: no lungs and liver or muscles to compare.", {"modality": ctx.modality})
    lung = sum(lungs) / len(lungs)
    brighter = {n: round(v, 1) for n, v in others.items() if v <= lung}
    evidence = {"modality": ctx.modality, "lung_mean": round(lung, 1), "not_brighter_than_lung": brighter}
    if brighter:
        return Check("intensities", "warn", "MR: the lungs are not darker than "
                     f"{', '.join(brighter)}; the labels may lie off the anatomy.", evidence)
    return Check("intensities", "ok", "MR: the lungs are darker than the liver and muscles.", evidence)
