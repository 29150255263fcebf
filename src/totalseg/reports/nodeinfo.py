"""The ``metadata`` block the aorta and pulmonary reports write from a node-info JSON, and the CT
shapes they refuse.

The official ``totalseg_aorta_report`` and ``totalseg_pulmonary_report`` commands read these with the
same code (their ``_load_metadata`` and ``_validate_ct``), differing only in the report version
written: the node-info's fields (DICOM fields; ``PatientsAge``, ``PatientsSex`` and
``PatientsBirthDate`` renamed without the ``s``), or the official defaults when no node-info file
exists; ``PatientAge`` as whole years (``"083Y"`` -> 83, ``"099Y"`` when absent). The official
commands stop without a report for an age in weeks, an age outside 5-150 years, an image that is not
3-D, or a side above 1,500 or below 20 voxels; we raise :class:`~totalseg.errors.InputError` instead.
(The spine report's metadata follows other official rules and lives in ``spine/results.py``.)

Examples:
    >>> meta = report_metadata(None, version="0.2.1")
    >>> meta["PatientAge"], meta["PatientSex"], meta["version"]
    (83, 'M', '0.2.1')
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from totalseg.errors import InputError

DEFAULTS = {"PatientName": "Unknown", "PatientSex": "M", "PatientAge": "083Y", "PatientBirthDate": "19000101",
            "PatientID": "Unknown", "StudyID": "Unknown", "StudyDescription": "Unknown", "StudyDate": "19000101"}
_RENAMES = {"PatientsAge": "PatientAge", "PatientsSex": "PatientSex", "PatientsBirthDate": "PatientBirthDate"}


def report_metadata(nodeinfo: str | os.PathLike | None, *, version: str) -> dict:
    """The JSON's ``metadata`` block: the node-info's fields (the defaults when ``nodeinfo`` is None or
    no such file exists, as the official commands), the age in whole years, ``version`` added.

    Raises:
        InputError: an unreadable node-info file, not a JSON object, or an age that is not whole years,
            is in weeks or is outside 5-150 years.

    Examples:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "nodeinfo.json"
        >>> _ = path.write_text('{"PatientsAge": "045Y", "PatientSex": "F"}')
        >>> report_metadata(path, version="0.1.2")
        {'PatientSex': 'F', 'PatientAge': 45, 'version': '0.1.2'}
    """
    meta = _read(Path(nodeinfo)) if nodeinfo is not None and Path(nodeinfo).exists() else dict(DEFAULTS)
    age = str(meta.setdefault("PatientAge", "099Y"))
    where = f"{nodeinfo}: " if nodeinfo is not None else ""
    if "W" in age:
        raise InputError(f"{where}patient age {age} is in weeks; the report is for patients aged 5-150 years")
    try:
        years = int(age.replace("Y", ""))
    except ValueError:
        raise InputError(f"{where}patient age {age!r} is not a number of years (a DICOM age such as 045Y); "
                         "fix the node-info JSON") from None
    if not 5 <= years <= 150:
        raise InputError(f"{where}patient age {years} is outside 5-150 years, where the official report stops")
    return meta | {"PatientAge": years, "version": version}


def _read(path: Path) -> dict:
    """A node-info file's JSON object, its ``Patients*`` keys renamed to ``Patient*``."""
    try:
        meta = json.loads(path.read_text(), strict=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the node-info JSON ({exc}); pass a JSON file of DICOM fields") from None
    if not isinstance(meta, dict):
        raise InputError(f"{path}: expected a JSON object of DICOM fields, got {type(meta).__name__}")
    for old, new in _RENAMES.items():
        if old in meta:
            meta[new] = meta.pop(old)
    return meta


def check_ct_shape(shape: tuple[int, ...], path: str | os.PathLike) -> None:
    """Refuse what the official reports refuse: not 3-D, a side above 1,500 or below 20 voxels.

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
