"""Check 3: structures that reach the image border are cut off by the field of view; their
whole-structure numbers (statistics without ``-sii``, clinical numbers, reports) are not measurable."""

from __future__ import annotations

from totalseg.measure.statistics import BORDER_VOXELS
from totalseg.qc.context import QcContext
from totalseg.qc.report import Check

_FACES = ("x_low", "x_high", "y_low", "y_high", "z_low", "z_high")


def check_field_of_view(ctx: QcContext) -> Check:
    """Warn for each structure within 3 voxels of an image border (the official statistics' rule).

    Examples:
        >>> import numpy as np
        >>> from totalseg.imaging.volume import LabelVolume, Volume
        >>> lab = np.zeros((10, 10, 10), np.uint8); lab[0:4, 4:6, 4:6] = 1
        >>> ctx = QcContext.build(Volume(lab * 1.0, affine=np.eye(4)), LabelVolume(lab, affine=np.eye(4)),
        ...                       {1: "liver"}, "ct")
        >>> c = check_field_of_view(ctx); c.status, c.evidence["cut_off"]
        ('warn', {'liver': ['x_low']})
    """
    shape = ctx.label_array.shape
    cut = {}
    for name, s in ctx.structures.items():
        if not s.cut_off:
            continue
        faces = []
        for axis, sl in enumerate(s.box):
            if sl.start < BORDER_VOXELS:
                faces.append(_FACES[2 * axis])
            if sl.stop > shape[axis] - BORDER_VOXELS:
                faces.append(_FACES[2 * axis + 1])
        cut[name] = faces
    evidence = {"cut_off": cut, "border_voxels": BORDER_VOXELS,
                "not_measurable": {"statistics_without_sii": sorted(cut), "clinical_and_reports": sorted(cut)}}
    if not cut:
        return Check("field_of_view", "ok", f"All {len(ctx.structures)} structures lie inside the field of view.",
                     evidence)
    names = ", ".join(sorted(cut)[:3]) + (" ..." if len(cut) > 3 else "")
    return Check("field_of_view", "warn", f"{len(cut)} structure(s) are cut off by the image border ({names}); "
                 "their volumes and other whole-structure numbers are not measurable.", evidence)
