"""An image as the model's nnU-Net reader hands it over: voxel order, orientation and spacing.

nnU-Net reads a NIfTI file with the reader plans.json names (:mod:`totalseg.models.readers`).
All of them reverse the stored axes; the ``...WithReorient`` ones first reorient to RAS, and the
spacing each reports follows its library:

- ``SimpleITKIO``, ``NibabelIO``: the header's voxel sizes (``pixdim``), stored order.
- ``SimpleITKIOWithReorient``: ``DICOMOrient`` to RAS (its closest-axis choice, which SimpleITK
  computes from the direction cosines); the voxel sizes follow the permuted axes.
- ``NibabelIOWithReorient``: ``as_reoriented(io_orientation(affine))``; where that changes the
  axes, nibabel rebuilds the header from the new affine, so the voxel sizes become the affine's
  column norms (they differ from ``pixdim`` only in headers whose two disagree).

The official tasks hand nnU-Net a freshly written canonical image, whose header zooms are the
affine's column norms and whose orientation is already the closest to RAS; ``--model-dir`` hands it
the input as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from nibabel import orientations as ornt

from totalseg.imaging.resample import header_zooms
from totalseg.models.readers import get_reader

_RAS = ornt.axcodes2ornt("RAS")


@dataclass(frozen=True)
class ReaderView:
    """The reader's (Z, Y, X) array and spacing of a volume, and how to put labels back."""

    data: np.ndarray  # (Z, Y, X), a view of the volume's array
    spacing: tuple[float, float, float]  # mm, same order
    orientation: np.ndarray  # nibabel orientation applied before the axes were reversed
    shape: tuple[int, int, int]  # the volume's (X, Y, Z) shape

    def labels_back(self, labels: np.ndarray) -> np.ndarray:
        """Labels on the reader's (Z, Y, X) grid back onto the volume's (X, Y, Z) grid (a view)."""
        reoriented = labels.transpose(2, 1, 0)
        if np.array_equal(self.orientation, _RAS):
            return reoriented
        back = ornt.ornt_transform(_RAS, self.orientation)
        return ornt.apply_orientation(reoriented, back)


def reader_view(array: np.ndarray, affine: np.ndarray, zooms: Sequence[float], reader: str) -> ReaderView:
    """What ``reader`` hands nnU-Net for a NIfTI with this array, affine and header voxel sizes.

    Examples:
        >>> view = reader_view(np.zeros((4, 5, 6)), np.diag([-1.0, 2.0, 3.0, 1.0]), (1.0, 2.0, 3.0),
        ...                    "NibabelIOWithReorient")
        >>> view.data.shape, view.spacing
        ((6, 5, 4), (3.0, 2.0, 1.0))
    """
    spec = get_reader(reader)
    orientation = _orientation(affine, spec.library) if spec.reorients else _RAS
    zooms = tuple(float(z) for z in zooms)
    if np.array_equal(orientation, _RAS):
        data, spacing = array, zooms
    else:
        data = ornt.apply_orientation(array, orientation)
        axes = [int(a) for a in orientation[:, 0]]  # input axis i lands on output axis axes[i]
        if spec.library == "nibabel":
            zooms = tuple(float(z) for z in header_zooms(affine))
        spacing = tuple(zooms[axes.index(out)] for out in range(3))
    return ReaderView(data.transpose(2, 1, 0), spacing[::-1], orientation, tuple(array.shape))


def _orientation(affine: np.ndarray, library: str) -> np.ndarray:
    """The reorientation to RAS each library picks (they differ only where axes tie at 45 degrees)."""
    if library == "nibabel":
        return ornt.io_orientation(affine)
    import SimpleITK as sitk

    columns = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    direction = np.diag([-1.0, -1.0, 1.0]) @ columns  # RAS+ world to ITK's LPS
    code = sitk.DICOMOrientImageFilter_GetOrientationFromDirectionCosines(direction.flatten().tolist())
    return ornt.ornt_transform(ornt.axcodes2ornt(tuple(code)), _RAS)
