"""A reference segmentation against the case's: read it onto the same labels, Dice per structure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from totalseg.errors import InputError
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.io import load_label_map, read_volume


def read_reference(path: Path, like: Volume, classes: Mapping[int, str]) -> LabelVolume:
    """A multilabel reference on the grid of ``like``, with label ids translated to ``classes``.

    A file carrying the official label-name extension is matched by structure name; a file
    without it must use the same label ids as the case's task.
    """
    ref = read_volume(path)
    if ref.shape != like.shape:
        raise InputError(f"{path.name}: the reference has shape {ref.shape} but the image {like.shape}; "
                         "upload a segmentation of this image, on its grid")
    values = np.asarray(ref.array)
    if values.dtype.kind == "f" and not np.array_equal(values, np.round(values)):
        raise InputError(f"{path.name}: holds fractional values; upload a label map (integer label ids)")
    if values.min() < 0 or values.max() > 65535:
        raise InputError(f"{path.name}: label ids must be 0..65535, found {values.min():g}..{values.max():g}")
    values = values.astype(np.int64)
    names = _label_names(path)
    if names:
        by_name = {n: i for i, n in classes.items()}
        lut = np.zeros(int(values.max()) + 1, dtype=np.int64)
        for ref_id, name in names.items():
            if ref_id < len(lut):
                lut[ref_id] = by_name.get(name, 0)
        values = lut[values]
    return LabelVolume(values.astype(np.uint16), affine=like.affine)


def compare_labels(pred: np.ndarray, ref: np.ndarray, classes: Mapping[int, str], *,
                   spacing_mm: tuple[float, float, float], tolerance_mm: float = 3.0) -> dict[str, tuple[float, float]]:
    """``{name: (dice, nsd)}`` for the structures in either label map (NaN where the reference lacks one).

    The metrics are :func:`totalseg.evaluation.label_metrics`, as ``totalseg evaluate`` computes them.

    Examples:
        >>> p = np.zeros((4, 4, 4), np.uint8); p[:2] = 1; r = np.zeros_like(p); r[1:3] = 1
        >>> compare_labels(p, r, {1: "liver", 2: "spleen"}, spacing_mm=(1, 1, 1))
        {'liver': (0.5, 1.0)}
    """
    from totalseg.evaluation import label_metrics

    present = set(np.unique(pred).tolist()) | set(np.unique(ref).tolist())
    ids = [i for i in classes if i in present and i > 0]
    metrics = label_metrics(ref, pred, class_ids=ids, spacing_mm=spacing_mm, tolerance_mm=tolerance_mm)
    return {classes[i]: (float(metrics[i][0]), float(metrics[i][1])) for i in ids}


def voxel_counts(labels: np.ndarray, classes: Mapping[int, str]) -> dict[str, int]:
    """Voxels per structure name."""
    counts = np.bincount(labels.astype(np.int64).ravel(), minlength=max(classes, default=0) + 1)
    return {n: int(counts[i]) for i, n in classes.items()}


def _label_names(path: Path) -> dict[int, str]:
    if not path.name.lower().endswith((".nii", ".nii.gz")):
        return {}
    try:
        return load_label_map(path)
    except InputError:  # no label-name extension: the task's ids are assumed
        return {}
