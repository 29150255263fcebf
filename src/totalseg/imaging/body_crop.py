"""Crop a CT to the body, as the official ``crop_to_body``: the 6 mm body model (task ``body``
``--fast``), its trunk (label 1) or whole body (any label), a 3 mm margin, the image cut out as int32.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import nibabel as nib
import numpy as np

from totalseg.imaging.crop import mask_bbox
from totalseg.imaging.volume import Volume

MARGIN_MM = (3.0, 3.0, 3.0)
"""Margin around the body on each side, per axis (the official ``crop_addon``)."""

TRUNK_LABEL = 1
"""``body_trunc`` in the body task's labels; ``body_extremities`` is 2."""


@dataclass(frozen=True)
class BodyCrop:
    """The cropped image (int32, header made from its affine) and the box it was cut from."""

    image: nib.Nifti1Image
    bbox: tuple[slice, slice, slice]


def body_mask(labels: np.ndarray, *, only_trunk: bool = False) -> np.ndarray:
    """The voxels to keep (bool): the trunk label alone, or every body label.

    Examples:
        >>> body_mask(np.array([0, 1, 2]), only_trunk=True).tolist()
        [False, True, False]
        >>> body_mask(np.array([0, 1, 2])).tolist()
        [False, True, True]
    """
    return labels == TRUNK_LABEL if only_trunk else labels > 0.5


def margin_voxels(header_zooms_mm: tuple[float, float, float], margin_mm=MARGIN_MM) -> tuple[int, int, int]:
    """The margin in whole voxels of the header's voxel size, rounded down (as the official tool).

    Examples:
        >>> margin_voxels((3.0, 1.5, 0.8))
        (1, 2, 3)
    """
    return tuple(int(v) for v in (np.array(margin_mm) / np.array(header_zooms_mm)).astype(int))  # type: ignore[return-value]


def crop_to_mask(vol: Volume, mask: np.ndarray, *, margin_mm=MARGIN_MM) -> BodyCrop:
    """Cut ``vol`` to the bounding box of ``mask`` plus ``margin_mm``, as int32 with a fresh header.

    An empty mask keeps the whole image (with a warning), as the official tool does. The margin
    is measured in the header's voxel size (pixdim), the affine moves so world positions stay put.

    Examples:
        >>> vol = Volume(np.arange(60.0).reshape(5, 4, 3), affine=np.diag([3.0, 3.0, 3.0, 1.0]))
        >>> mask = np.zeros((5, 4, 3), bool); mask[2, 2, 1] = True
        >>> cut = crop_to_mask(vol, mask)
        >>> cut.image.shape, cut.image.get_data_dtype().name, cut.image.affine[:3, 3].tolist()
        ((3, 3, 3), 'int32', [3.0, 3.0, 0.0])
    """
    if mask.shape != vol.shape:
        raise ValueError(f"mask shape {mask.shape} differs from the image's {vol.shape}")
    bbox = mask_bbox(mask, margin_vox=margin_voxels(vol.header_zooms_mm, margin_mm))
    if bbox is None:
        warnings.warn("no body found: the image is kept whole", UserWarning, stacklevel=2)
        bbox = tuple(slice(0, n) for n in vol.shape)
    affine = vol.affine.copy()
    affine[:3, 3] = np.dot(vol.affine, np.array([b.start for b in bbox] + [1]))[:3]
    data = vol.array[bbox].astype(np.int32)
    return BodyCrop(nib.Nifti1Image(data, affine), bbox)  # type: ignore[arg-type]


def crop_to_body(
    input: str | os.PathLike,
    *,
    only_trunk: bool = False,
    device: str = "cpu",
    quiet: bool = False,
    download: bool = True,
) -> BodyCrop:
    """Segment the body with the 6 mm body model and crop ``input`` to it (see :func:`crop_to_mask`).

    Args:
        input: a CT image file (any format :func:`totalseg.io.readers.read_volume` reads).
        only_trunk: crop to the trunk instead of the whole body (arms and legs left out).
        device: ``cpu``, ``gpu``, ``gpu:N`` or ``mps`` for the model run.
        quiet: no progress output.
        download: fetch the body model's weights if missing.

    Returns:
        The cropped image (int32) and its box in the input's voxels.

    Examples:
        >>> cut = crop_to_body("ct.nii.gz")  # doctest: +SKIP
        >>> cut.image.get_data_dtype()  # doctest: +SKIP
        dtype('int32')
    """
    from totalseg.api import segment  # the model stack (torch) only when a crop is asked for
    from totalseg.io.readers import read_volume

    vol = read_volume(input)
    labels = segment(vol, task="body", fast=True, device=device, quiet=quiet, download=download,
                     keep_models=False)
    return crop_to_mask(vol, body_mask(np.asanyarray(labels.dataobj), only_trunk=only_trunk))
