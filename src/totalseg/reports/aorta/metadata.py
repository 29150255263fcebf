"""The report's ``metadata`` block and the official refusals (patient age, image size).

As the official report: the fields of a node-info JSON (DICOM fields; ``PatientsAge``,
``PatientsSex`` and ``PatientsBirthDate`` renamed without the ``s``), or the official defaults
without one; ``PatientAge`` as whole years (``"083Y"`` -> 83, ``"099Y"`` when absent), and the
report version. The official command stops without a report for an age in weeks, an age outside
5-150 years, an image that is not 3-D, or a side above 1,500 or below 20 voxels; we say so instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from totalseg.errors import InputError
from totalseg.reports.aorta.definitions import REPORT_VERSION

DEFAULTS = {"PatientName": "Unknown", "PatientSex": "M", "PatientAge": "083Y", "PatientBirthDate": "19000101",
            "PatientID": "Unknown", "StudyID": "Unknown", "StudyDescription": "Unknown", "StudyDate": "19000101"}
_RENAMES = {"PatientsAge": "PatientAge", "PatientsSex": "PatientSex", "PatientsBirthDate": "PatientBirthDate"}


def report_metadata(nodeinfo: str | os.PathLike | None = None) -> dict:
    """The JSON's ``metadata`` block.

    Raises:
        InputError: unreadable node-info, an age in weeks or outside 5-150 years.

    Examples:
        >>> report_metadata()["PatientAge"], report_metadata()["version"]
        (83, '0.1.2')
    """
    meta = dict(DEFAULTS)
    if nodeinfo is not None and Path(nodeinfo).exists():
        try:
            meta = json.loads(Path(nodeinfo).read_text(), strict=False)
        except ValueError as exc:
            raise InputError(f"{nodeinfo}: not a JSON file ({exc}); pass the study's node-info JSON") from None
        if not isinstance(meta, dict):
            raise InputError(f"{nodeinfo}: expected a JSON object of DICOM fields, got {type(meta).__name__}")
        for old, new in _RENAMES.items():
            if old in meta:
                meta[new] = meta.pop(old)
    age = str(meta.setdefault("PatientAge", "099Y"))
    if "W" in age:
        raise InputError(f"patient age {age} is in weeks: the aorta report is for patients of 5-150 years")
    try:
        years = int(age.replace("Y", ""))
    except ValueError:
        raise InputError(f"patient age {age!r} is not a DICOM age (e.g. 063Y); fix the node-info JSON") from None
    if not 5 <= years <= 150:
        raise InputError(f"patient age {years} is outside 5-150 years, where the official report stops")
    return meta | {"PatientAge": years, "version": REPORT_VERSION}


def check_ct_shape(shape: tuple[int, ...], path: str | os.PathLike) -> None:
    """Refuse what the official report refuses: not 3-D, a side above 1,500 or below 20 voxels.

    Examples:
        >>> check_ct_shape((512, 512, 10), "ct.nii.gz")
        Traceback (most recent call last):
        totalseg.errors.InputError: ct.nii.gz: image shape (512, 512, 10) has a side below 20 voxels; pass a CT volume
    """
    if len(shape) != 3:
        raise InputError(f"{path}: image shape {shape} is not 3-D; pass one CT volume")
    if max(shape) > 1500:
        raise InputError(f"{path}: image shape {shape} has a side above 1500 voxels; crop or downsample the CT")
    if min(shape) < 20:
        raise InputError(f"{path}: image shape {shape} has a side below 20 voxels; pass a CT volume")
