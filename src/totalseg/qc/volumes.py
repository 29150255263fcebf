"""Check 5: organ volumes against published adult ranges, and against each other."""

from __future__ import annotations

from totalseg.errors import InputError
from totalseg.qc.context import QcContext
from totalseg.qc.reference import BSA_SCALED, LUNG_LOBES, RATIOS, STANDARD_BSA_M2, VOLUME_ML
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


def body_surface_area_m2(height_m: float, weight_kg: float) -> float:
    """Mosteller's body surface area: sqrt(height in cm x weight in kg / 3600).

    Examples:
        >>> round(body_surface_area_m2(1.80, 80.0), 3)
        2.0
    """
    if not (0.5 <= height_m <= 2.5 and 2 <= weight_kg <= 400):
        raise InputError(f"height {height_m} m and weight {weight_kg} kg are not an adult's; give metres and "
                         "kilograms (e.g. 1.75 and 70)")
    return (height_m * 100 * weight_kg / 3600) ** 0.5


def check_volumes(ctx: QcContext, *, bsa_m2: float | None = None) -> Check:
    """Warn outside the reference range or ratio range, fail below half its low end or above twice its high end.

    Given the body surface area, the ranges of :data:`~totalseg.qc.reference.BSA_SCALED` organs are
    scaled by ``bsa_m2 / 1.73``.

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
    scale = bsa_m2 / STANDARD_BSA_M2 if bsa_m2 is not None else 1.0
    for name, ml in vols.items():
        low, high, source = VOLUME_ML[name]
        if name in BSA_SCALED:
            low, high = round(low * scale, 1), round(high * scale, 1)
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
    if bsa_m2 is not None:
        evidence["body_surface_area_m2"] = round(bsa_m2, 3)
    if out:
        first = out[0].get("structure") or out[0]["ratio"]
        return Check("volumes", status, f"{len(out)} volume(s) or ratio(s) lie outside the adult reference range "
                     f"(first: {first}).", evidence)
    if not vols:
        return Check("volumes", "ok", "No whole organ with a reference range to measure.", evidence)
    return Check("volumes", "ok", f"{len(vols)} organ volume(s) lie within the adult reference ranges.", evidence)
