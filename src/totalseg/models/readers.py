"""The image readers an nnU-Net plans.json may name, and what each one hands the network.

nnU-Net reads every input with the reader named in ``image_reader_writer``. All of its 3-D readers
give the voxels in reversed (Z, Y, X) order of the stored (X, Y, Z) array: SimpleITK by nature,
the nibabel ones by a deliberate ``transpose((2, 1, 0))`` "to be consistent with the way SimpleITK
reads images". The ``...WithReorient`` readers first reorient the image to RAS. Patch size and
spacing in plans.json refer to that reversed order (then ``transpose_forward``).

A reader not in :data:`READERS` is refused: nnunetv2 2.8.1 also ships ``Tiff3DIO`` (TIFF files
only) and ``NaturalImage2DIO`` (2-D PNG/BMP), neither of which reads the volumes totalseg takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from totalseg.errors import WeightsError


@dataclass(frozen=True)
class Reader:
    """One nnU-Net image reader.

    Attributes:
        name: the class name plans.json uses.
        reorients: the image is reoriented to RAS before its axes are reversed.
        library: ``sitk`` or ``nibabel``, the library nnU-Net reads with (spacing conventions
            differ only for headers that ITK refuses, such as sheared affines).
    """

    name: str
    reorients: bool
    library: str

    # Every 3-D nnU-Net reader reverses the stored axis order.
    axes: tuple[int, int, int] = (2, 1, 0)


READERS = {
    reader.name: reader
    for reader in (
        Reader("SimpleITKIO", reorients=False, library="sitk"),
        Reader("SimpleITKIOWithReorient", reorients=True, library="sitk"),
        Reader("NibabelIO", reorients=False, library="nibabel"),
        Reader("NibabelIOWithReorient", reorients=True, library="nibabel"),
    )
}


def get_reader(name: str) -> Reader:
    """The reader plans.json names, or a WeightsError naming the supported ones.

    Examples:
        >>> get_reader("NibabelIOWithReorient").axes
        (2, 1, 0)
    """
    if name not in READERS:
        raise WeightsError(
            f"plans.json: image_reader_writer {name!r} is not supported (supported: {', '.join(READERS)})"
        )
    return READERS[name]


def reader_order(array_xyz: np.ndarray, reader: str) -> np.ndarray:
    """``array_xyz`` in the axis order ``reader`` hands nnU-Net (a view; its own inverse).

    Examples:
        >>> reader_order(np.zeros((4, 5, 6)), "NibabelIO").shape
        (6, 5, 4)
    """
    return array_xyz.transpose(get_reader(reader).axes)


def reorienting_reader(file_ending: str) -> str:
    """The reader whose view of an image is its closest canonical (RAS) orientation, for files of
    ``file_ending``: what ``totalseg train`` writes into plans, since it trains on canonical images.

    Examples:
        >>> reorienting_reader(".nii.gz"), reorienting_reader(".nrrd")
        ('NibabelIOWithReorient', 'SimpleITKIOWithReorient')
    """
    return "NibabelIOWithReorient" if file_ending.lower() in (".nii", ".nii.gz") else "SimpleITKIOWithReorient"
