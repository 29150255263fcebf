"""The ``total`` masks of the report from our engine, the way the official report runs its models.

The official report first runs ``total --fast`` for the aorta and the heart, crops the CT to them
(plus 20 mm, int16), resamples it to 0.8 mm (order 3) and runs ``total`` with its ROI subset on that
crop. The other models (``aortic_dissection``, ``aorta_annulus``, ``renal_arteries``) are licensed
or served remotely; their masks are passed as files instead.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.imaging.crop import crop, margin_in_voxels, mask_bbox
from totalseg.imaging.resample import resample_to_spacing
from totalseg.imaging.volume import Volume
from totalseg.reports.aorta.definitions import CROP_MARGIN_MM, GRID_MM, TOTAL_ROIS
from totalseg.settings import Settings


def segment_total(ct_path: str | os.PathLike, models_dir: str | os.PathLike, *, device: str = "cpu",
                  quiet: bool = True, settings: Settings | None = None, download: bool = True) -> Path:
    """Write ``ct_cropped.nii.gz`` and the ``total`` ROI masks into ``models_dir``; returns the cropped CT's path.

    ``settings`` (weights location) and ``download`` go to :func:`totalseg.api.segment`.

    Examples:
        >>> segment_total("ct.nii.gz", "out/models")  # doctest: +SKIP
        PosixPath('out/models/ct_cropped.nii.gz')
    """
    from totalseg.api import segment

    run = dict(device=device, quiet=quiet, settings=settings, download=download)
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    cropped_path = models_dir / "ct_cropped.nii.gz"
    with tempfile.TemporaryDirectory() as rough_dir:
        segment(ct_path, rough_dir, task="total", fast=True, roi_subset=["aorta", "heart"], **run)
        ct_image = nib.load(ct_path)
        masks = [nib.load(Path(rough_dir) / f"{name}.nii.gz").get_fdata() > 0.5 for name in ("aorta", "heart")]
    cropped = crop_to_aorta(ct_image, masks[0] | masks[1])
    nib.save(cropped, cropped_path)
    segment(cropped_path, models_dir, task="total", roi_subset=list(TOTAL_ROIS), **run)
    return cropped_path


def crop_to_aorta(ct: nib.Nifti1Image, mask: np.ndarray) -> nib.Nifti1Image:
    """The CT cropped to ``mask`` plus 20 mm (int16) and resampled to 0.8 mm (order 3, int16).

    Examples:
        >>> m = np.zeros((20, 20, 20), bool); m[8:12, 8:12, 8:12] = True
        >>> crop_to_aorta(nib.Nifti1Image(np.zeros((20, 20, 20), np.int16), np.diag([2.0, 2, 2, 1])), m).shape
        (50, 50, 50)
    """
    volume = Volume(np.asarray(ct.dataobj), affine=ct.affine)
    box = mask_bbox(mask, margin_vox=margin_in_voxels(ct.affine, (CROP_MARGIN_MM,) * 3))
    if box is None:
        box = tuple(slice(0, s) for s in mask.shape)
    part = crop(volume, box, dtype=np.int16)
    fine = resample_to_spacing(part, spacing_mm=GRID_MM, order=3, dtype=np.int16)
    return nib.Nifti1Image(np.asarray(fine.array), fine.affine)
