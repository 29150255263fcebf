"""Check 4: structures in pieces: components, the share of voxels outside the largest, and blobs
far from the main body."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from totalseg.measure.statistics import BORDER_VOXELS
from totalseg.qc.context import QcContext
from totalseg.qc.reference import NATURALLY_FRAGMENTED
from totalseg.qc.report import Check

OUTSIDE_SHARE = 0.10  # share of voxels outside the largest component
FAR_MM = 20.0  # a blob at least this far from the main body
MIN_BLOB_ML = 0.1  # and at least this big


def check_fragmentation(ctx: QcContext) -> Check:
    """Warn for structures (other than naturally fragmented ones: bowel, costal cartilages, ...)
    with over 10 % outside their largest component or a blob of >= 0.1 ml over 20 mm away. Pieces
    that reach the image border do not count: they may join the structure outside the image.

    Examples:
        >>> from totalseg.imaging.volume import LabelVolume, Volume
        >>> lab = np.zeros((60, 10, 10), np.uint8); lab[2:8, 2:8, 2:8] = 1; lab[50:53, 4:7, 4:7] = 1
        >>> ctx = QcContext.build(Volume(lab * 1.0, affine=np.eye(4) * 2), LabelVolume(lab, affine=np.eye(4) * 2),
        ...                       {1: "liver"}, "ct")
        >>> check_fragmentation(ctx).evidence["fragmented"]["liver"]["far_blobs"]
        1
    """
    spacing = ctx.labels.spacing_mm
    voxel_ml = float(np.prod(spacing)) / 1000.0
    shape = ctx.label_array.shape
    flagged, pieces = {}, {}
    for name, s in ctx.structures.items():
        comps, n = ndimage.label(s.mask(ctx.label_array), structure=np.ones((3, 3, 3)))
        pieces[name] = int(n)
        if n < 2 or name.startswith(NATURALLY_FRAGMENTED):
            continue
        sizes = np.bincount(comps.ravel())[1:]
        main = int(np.argmax(sizes)) + 1
        # pieces at the border of a cut structure may join the rest outside the image: not stray
        boxes = ndimage.find_objects(comps)
        stray = [i + 1 for i in range(n) if i + 1 != main and not _at_border(boxes[i], s.box, shape)]
        share = float(sum(sizes[i - 1] for i in stray) / sizes.sum())
        dist = ndimage.distance_transform_edt(comps != main, sampling=spacing) if stray else None
        far = [i for i in stray if sizes[i - 1] * voxel_ml >= MIN_BLOB_ML and dist[comps == i].min() >= FAR_MM]
        if share > OUTSIDE_SHARE or far:
            flagged[name] = {"components": int(n), "share_outside_largest": round(share, 3),
                             "far_blobs": len(far)}
    evidence = {"fragmented": flagged, "components": {k: v for k, v in pieces.items() if v > 1}}
    if flagged:
        first = next(iter(flagged))
        return Check("fragmentation", "warn", f"{len(flagged)} structure(s) are in implausible pieces (first: "
                     f"{first}, {flagged[first]['components']} components).", evidence)
    return Check("fragmentation", "ok", "No structure has stray pieces.", evidence)


def _at_border(piece: tuple[slice, ...], box: tuple[slice, ...], shape: tuple[int, ...]) -> bool:
    """Whether a piece (its box inside the structure's box) reaches within 3 voxels of the image border."""
    lo = [b.start + p.start for b, p in zip(box, piece)]
    hi = [b.start + p.stop for b, p in zip(box, piece)]
    return any(a < BORDER_VOXELS or z > n - BORDER_VOXELS for a, z, n in zip(lo, hi, shape))
