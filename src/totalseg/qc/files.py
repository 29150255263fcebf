"""QC of files on disk: an image and an existing segmentation (ours or the official tool's)."""

from __future__ import annotations

import os

from totalseg.io import read_volume
from totalseg.measure.existing import check_same_grid, load_segmentation
from totalseg.qc.report import QcReport
from totalseg.qc.run import run_qc


def qc_files(image: str | os.PathLike, seg: str | os.PathLike, *, task: str | None = None,
             modality: str | None = None, height_m: float | None = None,
             weight_kg: float | None = None) -> QcReport:
    """Run the QC on an image file and a multilabel file or folder of ``<class>.nii.gz`` masks.

    Args:
        image: the CT/MR the masks were made from.
        seg: a multilabel NIfTI (its label-name extension names the labels, else the task's class
            map) or a mask folder, on the image's grid.
        task: the task that made the masks (default: from the label names).
        modality: ``ct`` or ``mr`` (default: the task's).
        height_m, weight_kg: the patient's, where known (organ volume ranges scaled by body surface area).

    Raises:
        InputError: unreadable files, unknown mask names, masks off the image's grid.

    Examples:
        >>> import tempfile, nibabel as nib, numpy as np
        >>> from pathlib import Path
        >>> folder = Path(tempfile.mkdtemp())
        >>> nib.save(nib.Nifti1Image(np.full((8, 8, 8), 40, np.int16), np.eye(4)), folder / "ct.nii.gz")
        >>> mask = np.zeros((8, 8, 8), np.uint8); mask[3:5, 3:5, 3:5] = 1
        >>> (folder / "seg").mkdir(); nib.save(nib.Nifti1Image(mask, np.eye(4)), folder / "seg" / "liver.nii.gz")
        >>> report = qc_files(folder / "ct.nii.gz", folder / "seg")
        >>> report.check("volumes").evidence["volumes_ml"], report.check("input").status
        ({'liver': 0.008}, 'fail')
    """
    vol = read_volume(image)
    labels, classes, task = load_segmentation(seg, task=task)
    check_same_grid(vol, labels, seg)
    return run_qc(vol, labels, classes, modality=modality or _task_modality(task), height_m=height_m,
                  weight_kg=weight_kg)


def _task_modality(task: str) -> str:
    from totalseg.models.tasks import catalog

    return catalog()["tasks"].get(task, {}).get("modality", "ct")
