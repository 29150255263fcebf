"""Save a nibabel image atomically, as ``nib.save`` would write it."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib

from totalseg.errors import OutputError
from totalseg.io.atomic import atomic_path


def save_nifti(img: nib.Nifti1Image, path: str | os.PathLike) -> Path:
    """Write ``img`` to a ``.nii.gz`` or ``.nii`` file atomically and return the path.

    The temporary file keeps the target's name, so nibabel compresses exactly when the target
    ends with ``.gz``; the bytes are those ``nib.save(img, path)`` writes.

    Raises:
        OutputError: another suffix, or the file cannot be written.

    Examples:
        >>> import numpy as np, tempfile
        >>> img = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
        >>> save_nifti(img, Path(tempfile.mkdtemp()) / "mask.nii.gz").name
        'mask.nii.gz'
    """
    path = check_nifti_path(path)
    with atomic_path(path) as tmp:
        nib.save(img, tmp)
    return path


def check_nifti_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path if it names a NIfTI file, else :class:`OutputError` (check before long work).

    Examples:
        >>> check_nifti_path("out.nrrd")
        Traceback (most recent call last):
        ...
        totalseg.errors.OutputError: out.nrrd: unsupported output suffix; name the output .nii.gz or .nii
    """
    path = Path(path)
    if not path.name.lower().endswith((".nii.gz", ".nii")):
        raise OutputError(f"{path}: unsupported output suffix; name the output .nii.gz or .nii")
    return path
