"""Reorientation to the closest canonical (RAS+) axis order and back, as nibabel defines it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nibabel import orientations as ornt

from totalseg.imaging.volume import Volume


@dataclass(frozen=True)
class Reorientation:
    """How a volume was flipped/transposed to RAS, so labels can be put back."""

    to_canonical: np.ndarray  # nibabel orientation array (axis, flip) per input axis
    shape: tuple[int, int, int]  # input array shape
    affine: np.ndarray  # input affine

    @property
    def is_identity(self) -> bool:
        return bool(np.array_equal(self.to_canonical, ornt.axcodes2ornt("RAS")))

    def undo(self, canonical: Volume) -> Volume:
        """Bring a canonical volume back to the input's axis order, with the input's affine."""
        if self.is_identity:
            return canonical.with_data(canonical.array, affine=self.affine)
        back = ornt.ornt_transform(ornt.axcodes2ornt("RAS"), self.to_canonical_codes)
        return canonical.with_data(ornt.apply_orientation(canonical.array, back), affine=self.affine)

    def undo_on_grid(self, canonical: Volume) -> Volume:
        """A canonical volume on another grid (a lower resolution) back in the input's axis order,
        its affine rewritten as nibabel's ``as_reoriented`` does (world coordinates unchanged)."""
        if self.is_identity:
            return canonical
        back = ornt.ornt_transform(ornt.axcodes2ornt("RAS"), self.to_canonical_codes)
        affine = canonical.affine @ ornt.inv_ornt_aff(back, canonical.shape)
        return canonical.with_data(ornt.apply_orientation(canonical.array, back), affine=affine)

    @property
    def to_canonical_codes(self) -> np.ndarray:
        return self.to_canonical


def to_canonical(vol: Volume) -> tuple[Volume, Reorientation]:
    """``vol`` in the closest canonical orientation, like ``nibabel.as_closest_canonical``.

    The array is a view (flips and transposes only); the affine is rewritten so world
    coordinates do not change.

    Examples:
        >>> import numpy as np
        >>> lps = Volume(np.arange(24).reshape(2, 3, 4), affine=np.diag([-1.0, -1.0, 1.0, 1.0]))
        >>> ras, how = to_canonical(lps)
        >>> ras.affine[:3, :3].diagonal().tolist(), bool(ras.array[0, 0, 0] == lps.array[1, 2, 0])
        ([1.0, 1.0, 1.0], True)
    """
    transform = ornt.io_orientation(vol.affine)
    how = Reorientation(transform, vol.shape, vol.affine)
    if how.is_identity:
        return vol, how
    array = ornt.apply_orientation(vol.array, transform)
    affine = vol.affine @ ornt.inv_ornt_aff(transform, vol.shape)
    return vol.with_data(array, affine=affine), how
