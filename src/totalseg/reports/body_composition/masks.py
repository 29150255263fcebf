"""The masks a body-composition measurement needs, on the CT's grid: found in folders or segmented.

A mask ``<class>`` of task ``<task>`` is looked up, in each search folder in turn, as
``<folder>/<class>.nii.gz``, ``<folder>/<task>/<class>.nii.gz`` or in the multilabel file
``<folder>/<task>.nii.gz``. A task with any mask not found is segmented with
:func:`totalseg.api.segment` into ``<cache>/<task>.nii.gz`` (one multilabel file; the next run
finds it there).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from totalseg.imaging.volume import Volume
from totalseg.io import read_volume
from totalseg.io.nifti_ext import load_label_map
from totalseg.measure.existing import check_same_grid, load_segmentation
from totalseg.reports.body_composition.protocol import needed_masks

Masks = dict[str, np.ndarray]  # class name -> bool array (X, Y, Z) on the CT's grid


def find_masks(ct: Volume, folders: Sequence[Path]) -> tuple[Masks, dict[str, list[str]]]:
    """The needed masks found in ``folders``, and task -> the names still missing.

    Examples:
        >>> ct = Volume(np.zeros((2, 2, 2)), affine=np.eye(4))
        >>> masks, missing = find_masks(ct, [])
        >>> masks, sorted(missing)
        ({}, ['abdominal_muscles', 'body', 'total', 'trunk_cavities'])
    """
    masks: Masks = {}
    missing: dict[str, list[str]] = {}
    for task, names in needed_masks().items():
        for name in names:
            found = _find_one(ct, folders, task, name)
            if found is None:
                missing.setdefault(task, []).append(name)
            else:
                masks[name] = found
    return masks, missing


def gather_masks(ct_path: str | os.PathLike, ct: Volume, folders: Sequence[Path], cache: Path, *,
                 device: str = "cpu", quiet: bool = False, segment_kwargs: dict | None = None) -> Masks:
    """Every needed mask: found in ``folders`` (and ``cache``), the missing tasks segmented into ``cache``."""
    masks, missing = find_masks(ct, [*folders, cache])
    for task, names in missing.items():
        if not quiet:
            print(f"body composition: segmenting {task} (missing {names[0]}"
                  f"{f' and {len(names) - 1} more' if len(names) > 1 else ''})", file=sys.stderr)
        masks.update(_segment_task(ct_path, task, cache, device=device, quiet=quiet, **(segment_kwargs or {})))
    return masks


def _find_one(ct: Volume, folders: Sequence[Path], task: str, name: str) -> np.ndarray | None:
    for folder in folders:
        for path in (folder / f"{name}.nii.gz", folder / task / f"{name}.nii.gz"):
            if path.is_file():
                mask = read_volume(path)
                check_same_grid(ct, mask, path)
                return np.asarray(mask.array) > 0
        multilabel = folder / f"{task}.nii.gz"
        if multilabel.is_file():
            labels, classes, _ = load_segmentation(multilabel, task=task)
            check_same_grid(ct, labels, multilabel)
            ids = [k for k, v in classes.items() if v == name]
            if ids:
                return np.asarray(labels.array) == ids[0]
    return None


def _segment_task(ct_path, task: str, cache: Path, *, device: str, quiet: bool, **kwargs) -> Masks:
    from totalseg.api import segment

    cache.mkdir(parents=True, exist_ok=True)
    roi = list(needed_masks()[task]) if task == "total" else None
    seg = segment(ct_path, cache / f"{task}.nii.gz", task=task, ml=True, roi_subset=roi, device=device,
                  quiet=quiet, keep_models=False, **kwargs)
    labels = np.asanyarray(seg.dataobj)
    classes = load_label_map(seg)
    return {name: labels == k for k, name in classes.items() if name in needed_masks()[task]}
