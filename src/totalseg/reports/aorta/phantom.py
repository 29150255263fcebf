"""Hand-made aorta masks with known diameters, for examples and known-answer tests.

The official-tool goldens use a fuller phantom (arch, branches, annulus), built by
``benchmarks/aorta_report_golden.py`` and stored under ``tests/data/aorta_report_golden``.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np

LEAN = 0.1  # mm of x per mm of z


def straight_tube(*, diameter_mm: float, length_mm: float = 120.0,
                  spacing_mm: float = 1.5) -> dict[str, nib.Nifti1Image]:
    """A nearly vertical aorta of ``diameter_mm`` with a T12 block beside it and a right iliac artery below.

    The tube leans 0.1 mm per mm in x: the skeleton of a perfectly axis-aligned cylinder collapses
    to a few voxels (a property of the thinning both tools use).

    Only the ``total`` masks: the report can place landmarks 9 (T12) and 11 (bifurcation).

    Examples:
        >>> masks = straight_tube(diameter_mm=20)
        >>> sorted(masks)
        ['aorta', 'iliac_artery_right', 'vertebrae_T12']
    """
    radius = diameter_mm / 2
    side = int(np.ceil((diameter_mm + 50 + LEAN * length_mm) / spacing_mm))
    depth = int(np.ceil((length_mm + 30) / spacing_mm))
    x, y, z = (np.indices((side, side, depth)) + 0.0) * spacing_mm
    cx = cy = side * spacing_mm / 2
    r2 = (x - cx - LEAN * (z - 20 - length_mm / 2)) ** 2 + (y - cy) ** 2
    aorta = (r2 <= radius ** 2) & (z >= 20) & (z <= 20 + length_mm)
    t12 = ((np.abs(x - cx) <= 12) & (y < cy - radius - 3) & (y > cy - radius - 22)
           & (np.abs(z - 20 - length_mm / 2) <= 10))
    iliac = ((x - cx + LEAN * length_mm / 2 - 6) ** 2 + (y - cy) ** 2 <= 16) & (z < 20) & (z >= 2)
    affine = np.diag([spacing_mm, spacing_mm, spacing_mm, 1.0])
    return {name: nib.Nifti1Image(mask.astype(np.uint8), affine)
            for name, mask in (("aorta", aorta), ("vertebrae_T12", t12), ("iliac_artery_right", iliac))}
