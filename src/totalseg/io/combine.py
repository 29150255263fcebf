"""Merge the masks of a class group into one binary mask, as the official ``totalseg_combine_masks``.

The source is a folder of per-class ``<name>.nii.gz`` masks or one multilabel NIfTI with the
official label extension. The result is uint8 (1 inside any of the group's classes, 0 elsewhere)
with a fresh header built from the affine of the group's first mask (or of the multilabel file),
as the official tool writes it; ``multilabel=True`` adds the label extension ``{1: group}``.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.anatomy.groups import GROUP_NAMES, group_classes
from totalseg.errors import InputError
from totalseg.io.nifti_ext import add_label_map_to_nifti, load_label_map


def combine_masks(source: str | os.PathLike, group: str, *, multilabel: bool = False) -> nib.Nifti1Image:
    """One uint8 mask of every class of ``group`` found in ``source``.

    Args:
        source: a folder of per-class ``<name>.nii.gz`` masks (voxels above 0.5 count), or a
            multilabel NIfTI whose header names its labels (the ``--ml`` output).
        group: one of :data:`totalseg.anatomy.groups.GROUP_NAMES` (``lung``, ``ribs``, ``body``, ...).
        multilabel: add the label extension ``{1: group}`` to the header.

    Returns:
        A ``nib.Nifti1Image`` with uint8 data and a header made from the affine alone.

    Raises:
        InputError: an unknown group, a missing source, missing masks or labels, masks of
            different shapes.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> for i, name in enumerate(["lung_upper_lobe_left", "lung_lower_lobe_left"]):
        ...     data = np.zeros((3, 1, 1), np.uint8); data[i] = 1
        ...     nib.save(nib.Nifti1Image(data, np.eye(4)), folder / f"{name}.nii.gz")
        >>> combine_masks(folder, "lung_left").get_fdata().ravel().tolist()
        [1.0, 1.0, 0.0]
    """
    if group not in GROUP_NAMES:
        raise InputError(f"unknown mask group {group!r}; choose one of {', '.join(GROUP_NAMES)}")
    source = Path(source)
    if source.is_file():
        img = _from_multilabel(source, group)
    elif source.is_dir():
        img = _from_folder(source, group)
    else:
        raise InputError(f"{source}: not found; pass a folder of per-class masks or a multilabel .nii.gz file")
    return add_label_map_to_nifti(img, {1: group}) if multilabel else img


def _from_folder(folder: Path, group: str) -> nib.Nifti1Image:
    names = group_classes(group)
    paths = [folder / f"{name}.nii.gz" for name in names]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"{folder}: missing {len(missing)} of the {len(names)} masks of group {group!r} "
                         f"({', '.join(missing)}); did the segmentation of this image run successfully?")
    ref = _load(paths[0])
    combined = np.zeros(ref.shape, dtype=np.uint8)
    for path in paths:
        img = ref if path == paths[0] else _load(path)
        if img.shape != ref.shape:
            raise InputError(f"{path}: shape {img.shape} differs from {paths[0].name}'s {ref.shape}; "
                             "pass the masks of one segmentation")
        combined[_values(img) > 0.5] = 1
    return nib.Nifti1Image(combined, ref.affine)


def _from_multilabel(path: Path, group: str) -> nib.Nifti1Image:
    img = _load(path)
    label_ids = {name: label_id for label_id, name in load_label_map(img).items()}
    names = group_classes(group)
    missing = [name for name in names if name not in label_ids]
    if missing:
        raise InputError(f"{path}: the label map has no {', '.join(missing)} (group {group!r}); pass the "
                         "multilabel output of a task with these classes (total) or a folder of masks")
    data = _values(img)
    combined = np.isin(data, [label_ids[name] for name in names]).astype(np.uint8)
    return nib.Nifti1Image(combined, img.affine)


def _load(path: Path) -> nib.Nifti1Image:
    try:
        return nib.load(path)
    except Exception as exc:  # nibabel raises many types for a bad file
        raise InputError(f"{path}: not a readable NIfTI file ({exc}); pass a .nii.gz mask") from exc


def _values(img: nib.Nifti1Image) -> np.ndarray:
    """The voxel values ``img.get_fdata()`` holds; the stored integers when unscaled (no float copy)."""
    slope, inter = img.header.get_slope_inter()
    if slope in (None, 1.0) and inter in (None, 0.0):
        return np.asanyarray(img.dataobj)
    return img.get_fdata()
