"""Check 1: paired and one-sided structures on the patient's correct side, in world coordinates."""

from __future__ import annotations

from totalseg.qc.context import QcContext
from totalseg.qc.reference import ONE_SIDED
from totalseg.qc.report import Check

MARGIN_MM = 5.0  # a structure must be this far on the wrong side to count


def check_laterality(ctx: QcContext) -> Check:
    """Fail when a left structure lies right of its right partner, or a one-sided organ (liver
    right; spleen, stomach left) lies on the wrong side of the spine's midline.

    Examples:
        >>> import numpy as np
        >>> from totalseg.imaging.volume import LabelVolume, Volume
        >>> lab = np.zeros((10, 4, 4), np.uint8); lab[1:3, 1:3, 1:3] = 1; lab[7:9, 1:3, 1:3] = 2
        >>> ctx = QcContext.build(Volume(lab * 1.0, affine=np.eye(4)), LabelVolume(lab, affine=np.eye(4)),
        ...                       {1: "kidney_left", 2: "kidney_right"}, "ct")
        >>> check_laterality(ctx).status
        'fail'
    """
    s = ctx.structures
    wrong, checked = [], []
    for name in s:
        if not name.endswith("_left") and "_left_" not in name:
            continue
        partner = name.replace("_left", "_right")
        if partner in s:
            gap = s[name].centroid_mm[0] - s[partner].centroid_mm[0]
            checked.append(name)
            if gap < -MARGIN_MM:
                wrong.append({"left": name, "right": partner, "left_minus_right_x_mm": round(gap, 1)})
    mid = ctx.midline_x()
    for name, side in ONE_SIDED.items():
        if name not in s:
            continue
        ref, ref_name = mid, "midline"
        if ref is None and "liver" in s and name != "liver":
            ref, ref_name = s["liver"].centroid_mm[0], "liver"
        if ref is None:
            continue
        offset = (s[name].centroid_mm[0] - ref) * side
        checked.append(name)
        if offset < -MARGIN_MM:
            wrong.append({"structure": name, "expected_side": "left" if side > 0 else "right",
                          "x_mm": s[name].centroid_mm[0], f"{ref_name}_x_mm": round(ref, 1)})
    evidence = {"checked": len(checked), "wrong_side": wrong, "midline_x_mm": None if mid is None else round(mid, 1)}
    if wrong:
        first = wrong[0].get("structure") or f"{wrong[0]['left']}/{wrong[0]['right']}"
        return Check("laterality", "fail", f"{len(wrong)} structure(s) lie on the wrong side of the patient "
                     f"(first: {first}): labels swapped or the image is mirrored against its affine.", evidence)
    if not checked:
        return Check("laterality", "ok", "No paired or one-sided structures to compare.", evidence)
    return Check("laterality", "ok", f"All {len(checked)} sided structures lie on the expected side.", evidence)
