"""Check 7: structures that must be in the image, given which vertebrae it covers, and are missing."""

from __future__ import annotations

from totalseg.qc.context import QcContext
from totalseg.qc.reference import EXPECTED_AT, VERTEBRAE
from totalseg.qc.report import Check


def covered_levels(ctx: QcContext) -> list[str]:
    """The vertebrae strictly between the highest and lowest labelled whole vertebra (the end ones
    may hold only part of their level), S1 too when the sacrum lies below it."""
    whole = [v for v in VERTEBRAE if v in ctx.structures and not ctx.structures[v].cut_off]
    if len(whole) < 3:
        return []
    first, last = VERTEBRAE.index(whole[0]), VERTEBRAE.index(whole[-1])
    levels = list(VERTEBRAE[first + 1:last])
    sacrum = ctx.structures.get("sacrum")
    if last == VERTEBRAE.index("vertebrae_S1") and sacrum and not sacrum.cut_off:
        levels.append("vertebrae_S1")
    return levels


def check_expected_structures(ctx: QcContext) -> Check:
    """Warn for each structure whose reference levels are all covered but which has no voxel.

    Examples:
        >>> import numpy as np
        >>> from totalseg.imaging.volume import LabelVolume, Volume
        >>> lab = np.zeros((10, 10, 40), np.uint8)
        >>> for i, z in enumerate(range(30, 0, -6)): lab[4:6, 4:6, z:z + 4] = i + 1
        >>> names = {1: "vertebrae_T10", 2: "vertebrae_T11", 3: "vertebrae_T12", 4: "vertebrae_L1", 5: "vertebrae_L2",
        ...          6: "liver", 7: "rib_left_11"}
        >>> ctx = QcContext.build(Volume(lab * 1.0, affine=np.eye(4)), LabelVolume(lab, affine=np.eye(4)), names, "ct")
        >>> sorted(check_expected_structures(ctx).evidence["missing"])
        ['liver', 'rib_left_11']
    """
    levels = set(covered_levels(ctx))
    known = set(ctx.classes.values())
    expected = [n for n, at in EXPECTED_AT.items() if n in known and levels and set(at) <= levels]
    missing = [n for n in expected if n not in ctx.structures]
    evidence = {"covered_levels": [v.split("_")[1] for v in VERTEBRAE if v in levels], "expected": expected,
                "missing": missing}
    if not levels:
        return Check("expected_structures", "ok", "Fewer than three whole vertebrae: the coverage is unknown.",
                     evidence)
    if missing:
        return Check("expected_structures", "warn", f"{len(missing)} structure(s) that lie in the covered levels "
                     f"are missing (first: {missing[0]}).", evidence)
    return Check("expected_structures", "ok", f"All {len(expected)} structures expected at the covered levels "
                 "are present.", evidence)
