"""The L3 mid-slice and the compartment areas on it, from masks and HU.

The slice is axial in the image's closest RAS orientation, halfway between the first and last slice
holding L3 (rounded down). On it, with the HU windows of :mod:`.protocol`:

- skeletal muscle: muscle-window pixels of the ``abdominal_muscles`` masks;
- visceral fat: fat-window pixels of the abdominal cavity, outside the muscles;
- the inner region: the cavity, the muscles and L3 with their holes filled (what the muscle wall
  encloses); intermuscular fat: fat-window pixels in it, outside the cavity;
- subcutaneous fat: fat-window pixels of the trunk (``body_trunc``) outside the inner region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from totalseg.reports.body_composition.protocol import FAT_HU, MUSCLE_HU

MM2_PER_CM2 = 100.0


@dataclass(frozen=True)
class SliceChoice:
    """The chosen axial index (canonical z), or ``None`` with the reason it is not measurable."""

    index: int | None
    reason: str = ""
    extent: tuple[int, int] | None = None  # first and last slice holding L3


@dataclass(frozen=True)
class Compartments:
    """Boolean (X, Y) pixel sets of one slice, and their areas in cm2."""

    muscle: np.ndarray
    visceral_fat: np.ndarray
    subcutaneous_fat: np.ndarray
    intermuscular_fat: np.ndarray
    pixel_mm2: float

    def area_cm2(self, name: str) -> float:
        return float(np.count_nonzero(getattr(self, name))) * self.pixel_mm2 / MM2_PER_CM2


def l3_mid_slice(l3: np.ndarray) -> SliceChoice:
    """The axial index halfway through L3, unless L3 is absent or cut by the first or last slice.

    Examples:
        >>> m = np.zeros((4, 4, 10), bool); m[1:3, 1:3, 2:7] = True
        >>> l3_mid_slice(m).index
        4
        >>> m[:, :, 0] = True
        >>> l3_mid_slice(m).reason
        'not measurable, because L3 is cut by the field of view (it reaches the first or last axial slice)'
    """
    slices = np.flatnonzero(l3.any(axis=(0, 1)))
    if slices.size == 0:
        return SliceChoice(None, "not measurable, because L3 is not in the field of view (no vertebrae_L3 mask)")
    first, last = int(slices[0]), int(slices[-1])
    if first == 0 or last == l3.shape[2] - 1:
        return SliceChoice(None, "not measurable, because L3 is cut by the field of view (it reaches the first "
                                 "or last axial slice)", (first, last))
    return SliceChoice((first + last) // 2, "", (first, last))


def compartments(hu: np.ndarray, muscle: np.ndarray, cavity: np.ndarray, body: np.ndarray, vertebra: np.ndarray,
                 *, pixel_mm2: float) -> Compartments:
    """Each compartment's pixels on one slice (all arrays (X, Y); ``hu`` in HU).

    Examples:
        >>> hu = np.full((5, 5), -100.0); hu[2, 2] = 40.0
        >>> none = np.zeros((5, 5), bool); body = np.ones((5, 5), bool); mus = none.copy(); mus[2, 2] = True
        >>> c = compartments(hu, mus, none, body, none, pixel_mm2=2.0)
        >>> c.area_cm2("muscle"), c.area_cm2("subcutaneous_fat")
        (0.02, 0.48)
    """
    in_muscle = (hu >= MUSCLE_HU[0]) & (hu <= MUSCLE_HU[1])
    in_fat = (hu >= FAT_HU[0]) & (hu <= FAT_HU[1])
    inner = ndimage.binary_fill_holes(cavity | muscle | vertebra)
    return Compartments(
        muscle=muscle & in_muscle,
        visceral_fat=cavity & ~muscle & in_fat,
        subcutaneous_fat=body & ~inner & in_fat,
        intermuscular_fat=inner & ~cavity & in_fat,
        pixel_mm2=pixel_mm2,
    )


def pixel_area_mm2(affine: np.ndarray) -> float:
    """The area of one pixel of an axial slice: the norm of the cross product of the first two columns.

    Examples:
        >>> pixel_area_mm2(np.diag([0.8, 0.5, 3.0, 1.0]))
        0.4
    """
    return float(np.linalg.norm(np.cross(affine[:3, 0], affine[:3, 1])))
