"""Check 5: organ volumes against published adult ranges, and against each other."""

from __future__ import annotations

from totalseg.qc.context import QcContext
from totalseg.qc.reference import LUNG_LOBES, RATIOS, VOLUME_ML
from totalseg.qc.report import Check


def organ_volumes(ctx: QcContext) -> tuple[dict[str, float], list[str]]:
    """Volumes in ml of the structures with a reference range that are whole (not cut off), and
    the names skipped because the field of view cuts them. ``lungs`` is the sum of the five lobes."""
    s = ctx.structures
    vols, skipped = {}, []
    for name in VOLUME_ML:
        parts = LUNG_LOBES if name == "lungs" else (name,)
        if not all(p in s for p in parts):
            continue
        if any(s[p].cut_off for p in parts):
            skipped.append(name)
            continue
        vols[name] = round(sum(s[p].volume_ml for p in parts), 3)
    return vols, skipped


def check_volumes(ctx: QcContext) -> Check:
    """Warn outside the reference range or ratio range, fail below half its low end or above twice its high end.

    Examples:
        >>> import numpy as np
        >>> from totalseg.imaging.volume import LabelVolume, Volume
        >>> lab = np.zeros((20, 20, 20), np.uint8); lab[5:15, 5:15, 5:15] = 1
        >>> aff = np.diag([10.0, 10, 10, 1])
        >>> ctx = QcContext.build(Volume(lab * 1.0, affine=aff), LabelVolume(lab, affine=aff), {1: "spleen"}, "ct")
        >>> c = check_volumes(ctx); c.status, c.evidence["volumes_ml"]
        ('fail', {'spleen': 1000.0})
    """
    vols, skipped = organ_volumes(ctx)
    out, status = [], "ok"
    for name, ml in vols.items():
        low, high, source = VOLUME_ML[name]
        if not low <= ml <= high:
            severe = ml < low / 2 or ml > high * 2
            status = "fail" if severe or status == "fail" else "warn"
            out.append({"structure": name, "volume_ml": ml, "range_ml": [low, high], "source": source})
    for num, den, low, high, source in RATIOS:
        if num in vols and den in vols and vols[den] > 0:
            ratio = vols[num] / vols[den]
            if not low <= ratio <= high:
                status = "warn" if status == "ok" else status
                out.append({"ratio": f"{num}/{den}", "value": round(ratio, 2), "range": [low, high], "source": source})
    evidence = {"volumes_ml": vols, "outside_range": out, "not_measurable": skipped}
    if out:
        first = out[0].get("structure") or out[0]["ratio"]
        return Check("volumes", status, f"{len(out)} volume(s) or ratio(s) lie outside the adult reference range "
                     f"(first: {first}).", evidence)
    if not vols:
        return Check("volumes", "ok", "No whole organ with a reference range to measure.", evidence)
    return Check("volumes", "ok", f"{len(vols)} organ volume(s) lie within the adult reference ranges.", evidence)
