"""Existing segmentations as input: a multilabel file or a folder of ``<name>.nii.gz`` masks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from totalseg.anatomy.class_maps import class_map
from totalseg.errors import InputError
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.io import read_volume
from totalseg.measure.statistics import Stats, compute_statistics


def read_segmentation(path: str | os.PathLike, task: str) -> LabelVolume:
    """The labels of ``task`` from a multilabel image (label ids of the task's class map) or a
    folder of binary masks named after the classes (missing masks count as absent).

    Raises:
        InputError: no such file or folder, a folder without any of the task's masks, masks of
            different shapes, or non-integer labels.
    """
    path = Path(path)
    if path.is_dir():
        return _from_folder(path, class_map(task))
    vol = read_volume(path)
    array = np.asarray(vol.array)
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.mod(array, 1) == 0):
            raise InputError(f"{path}: expected integer labels, got fractional values; pass a segmentation")
        array = array.astype(np.int32)
    return LabelVolume(array, affine=vol.affine, header=vol.header)


def medians_from_segmentation(image: str | os.PathLike | Volume, seg: str | os.PathLike, task: str) -> Stats:
    """Median int16 intensity and volume of each structure of ``task``, measured on the grid of the
    segmentation, which must be the image's (the official ``-sa median -sii`` statistics)."""
    vol = image if isinstance(image, Volume) else read_volume(image)
    labels = read_segmentation(seg, task)
    if labels.shape != vol.shape or not np.allclose(labels.affine, vol.affine, atol=1e-3):
        raise InputError(f"{seg}: the segmentation's grid {labels.shape} differs from the image's {vol.shape}; "
                         "pass a segmentation of this image on its grid (as `totalseg segment` writes it)")
    return compute_statistics(vol, labels, class_map(task), include_incomplete=True, aggregation="median")


def _from_folder(folder: Path, classes: dict[int, str]) -> LabelVolume:
    array = first = None
    for class_id, name in classes.items():
        mask_path = folder / f"{name}.nii.gz"
        if not mask_path.is_file():
            continue
        mask = read_volume(mask_path)
        if array is None:
            array, first = np.zeros(mask.shape, np.uint8), mask
        elif mask.shape != array.shape:
            raise InputError(f"{mask_path}: shape {mask.shape} differs from {array.shape} of the other masks; "
                             "pass the masks of one segmentation")
        array[np.asarray(mask.array) > 0] = class_id
    if array is None:
        raise InputError(f"{folder}: no mask of the task's classes (e.g. {next(iter(classes.values()))}.nii.gz); "
                         "pass a folder written by `totalseg segment` or a multilabel file")
    return LabelVolume(array, affine=first.affine, header=first.header)
