"""Files the Export page offers, each written by the library's writers into the session's folder."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from totalseg.errors import InputError
from totalseg.io import write_class_masks, write_multilabel
from totalseg.ui.case import Case


def masks_zip(case: Case, folder: Path) -> Path:
    """``segmentations.zip``: one ``<name>.nii.gz`` per class (empty ones too), as ``totalseg segment`` writes."""
    masks = folder / "segmentations"
    write_class_masks(case.labels, masks, case.classes)
    target = folder / "segmentations.zip"
    partial = folder / ".segmentations.zip.part"
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as zf:  # .nii.gz is compressed already
        for name in case.classes.values():
            zf.write(masks / f"{name}.nii.gz", arcname=f"segmentations/{name}.nii.gz")
    partial.replace(target)
    return target


def multilabel_file(case: Case, folder: Path) -> Path:
    """``segmentation.nii.gz``: one uint8 file with the label names in its header extension."""
    target = folder / "segmentation.nii.gz"
    write_multilabel(case.labels, target, case.classes)
    return target


def statistics_file(stats: Mapping[str, Any], folder: Path) -> Path:
    """``statistics.json``: volume (mm3) and mean intensity per structure, as the official tool writes it."""
    from totalseg.measure.statistics import write_statistics

    return write_statistics(dict(stats), folder / "statistics.json")


def clinical_file(result: Mapping[str, Any], folder: Path) -> Path:
    """``clinical.json``: the clinical findings with thresholds, flags and sources."""
    from totalseg.measure.clinical import write_clinical

    return write_clinical(result, folder / "clinical.json")


def dicom_seg_file(case: Case, folder: Path) -> Path:
    """``segmentation_seg.dcm``: a DICOM-SEG referencing the uploaded series (DICOM input only)."""
    _require_dicom(case)
    from totalseg.io.dicom_seg import write_dicom_seg

    return write_dicom_seg(case.labels, case.series, case.classes, folder / "segmentation_seg.dcm")


def rtstruct_file(case: Case, folder: Path) -> Path:
    """``segmentation_rtstruct.dcm``: an RTSTRUCT with one ROI per found structure (DICOM input only)."""
    _require_dicom(case)
    from totalseg.io.rtstruct import write_rtstruct

    return write_rtstruct(case.labels, case.series, case.classes, folder / "segmentation_rtstruct.dcm")


def _require_dicom(case: Case) -> None:
    if not case.is_dicom:
        raise InputError(f"{case.name}: DICOM-SEG and RTSTRUCT need a DICOM input; upload the series as a .zip")
