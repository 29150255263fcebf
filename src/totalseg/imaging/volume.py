"""The one image type that flows through every step."""

from __future__ import annotations

from dataclasses import dataclass, field

import nibabel as nib
import numpy as np


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3-D image: voxel array in (X, Y, Z) order plus its voxel-to-world (RAS+ mm) affine.

    The affine is copied to float64 and must be 4x4. ``header`` keeps the NIfTI header of the
    source image (when there is one) so outputs can carry it, as the official tool's do.

    Examples:
        >>> import numpy as np
        >>> vol = Volume(np.zeros((4, 5, 6), np.int16), affine=np.diag([2.0, 2.0, 3.0, 1.0]))
        >>> vol.spacing_mm
        (2.0, 2.0, 3.0)
    """

    array: np.ndarray
    affine: np.ndarray = field(kw_only=True)
    header: nib.Nifti1Header | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        affine = np.array(self.affine, dtype=np.float64)
        if affine.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got shape {affine.shape}")
        if np.ndim(self.array) != 3:
            raise ValueError(f"Volume needs a 3-D array, got shape {np.shape(self.array)}")
        object.__setattr__(self, "affine", affine)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.array.shape)  # type: ignore[return-value]

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel size along each array axis, from the affine's column norms."""
        return tuple(float(s) for s in np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0)))  # type: ignore[return-value]

    @property
    def header_zooms_mm(self) -> tuple[float, float, float]:
        """Voxel sizes as the header stores them (NIfTI ``pixdim``, which may disagree with the
        affine); the affine's column norms in float32 where there is no header, as a NIfTI written
        from it would store them."""
        if self.header is not None:
            return tuple(float(z) for z in self.header.get_zooms()[:3])  # type: ignore[return-value]
        norms = np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0)).astype(np.float32)
        return tuple(float(z) for z in norms)  # type: ignore[return-value]

    def with_data(self, array: np.ndarray, *, affine: np.ndarray | None = None) -> Volume:
        """A new volume of the same kind with another array (and optionally affine)."""
        return type(self)(array, affine=self.affine if affine is None else affine, header=self.header)

    def to_nifti(self, dtype: np.dtype | type | None = None) -> nib.Nifti1Image:
        """A NIfTI image with this array, affine and (when known) the source header."""
        data = self.array if dtype is None else self.array.astype(dtype, copy=False)
        header = self.header.copy() if self.header is not None else None
        img = nib.Nifti1Image(data, self.affine, header)
        img.set_data_dtype(data.dtype)
        return img


class LabelVolume(Volume):
    """A volume of integer labels: resampled with order 0, written as uint8."""
