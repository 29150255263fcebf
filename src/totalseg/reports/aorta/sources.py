"""Where the report's masks come from: a folder of per-class masks and/or a ``total`` segmentation.

A folder is the official report's intermediate ``models/`` folder (or any folder of
``<class>.nii.gz`` masks, e.g. several ``totalseg segment`` outputs merged); its
``contrast_phase.json`` gives the phase. A ``total`` segmentation (multilabel file or mask folder)
gives the ``total`` classes; a class it lacks counts as segmented and empty.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.errors import InputError
from totalseg.reports.aorta.definitions import ANNULUS, AORTA, FALSE_LUMEN, STRUCTURES, TOTAL_ROIS, TRUE_LUMEN

REPORT_MASKS: tuple[str, ...] = tuple(dict.fromkeys(
    [AORTA.mask, ANNULUS.mask, TRUE_LUMEN.mask, FALSE_LUMEN.mask] + [s.mask for s in STRUCTURES.values()]))
_ALIASES = {"brachiocephalic_trunk": "brachiocephalic_trunc"}  # an older file name the official report accepts


def masks_from_folder(folder: str | os.PathLike) -> dict[str, nib.Nifti1Image]:
    """The report's masks found in ``folder`` (``<name>.nii.gz``; missing ones are left out).

    Examples:
        >>> masks_from_folder("no/such/folder")
        Traceback (most recent call last):
        totalseg.errors.InputError: no/such/folder: no such folder; pass the folder of masks (--seg-dir)
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder; pass the folder of masks (--seg-dir)")
    found = {}
    for name in REPORT_MASKS:
        for stem in (name, _ALIASES.get(name)):
            if stem and (folder / f"{stem}.nii.gz").is_file():
                found[name] = nib.load(folder / f"{stem}.nii.gz")
                break
    return found


def masks_from_total(path: str | os.PathLike) -> dict[str, nib.Nifti1Image]:
    """The report's ``total`` classes from a ``total`` segmentation (absent classes as empty masks).

    Examples:
        >>> sorted(masks_from_total("total.nii.gz"))  # doctest: +SKIP
        ['aorta', 'brachiocephalic_trunk', 'iliac_artery_right', 'subclavian_artery_left', 'vertebrae_T12']
    """
    from totalseg.anatomy.class_maps import class_map
    from totalseg.measure.segmentations import read_segmentation

    labels = read_segmentation(path, "total")
    ids = {name: i for i, name in class_map("total").items()}
    data = np.asarray(labels.array)
    return {name: nib.Nifti1Image((data == ids[name]).astype(np.uint8), labels.affine)
            for name in TOTAL_ROIS if name in {s.mask for s in STRUCTURES.values()} | {AORTA.mask}}


def phase_from_folder(folder: str | os.PathLike) -> str | None:
    """The ``phase`` of ``folder/contrast_phase.json`` (the official phase step's file), None without it.

    Examples:
        >>> phase_from_folder("no/such/folder") is None
        True
    """
    path = Path(folder) / "contrast_phase.json"
    if not path.is_file():
        return None
    try:
        return str(json.loads(path.read_text())["phase"])
    except (ValueError, KeyError) as exc:
        raise InputError(f"{path}: not a contrast phase result ({exc}); remove it or pass --contrast-phase") from None
