"""The pulmonary report's five landmarks, its version and the metadata it writes without a node file.

Examples:
    >>> [lm.file_name for lm in LANDMARKS][:2]
    ['pul_annulus.nii.gz', 'pul_sinotubular_junction.nii.gz']
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from totalseg.errors import InputError

# the official pulmonary report version whose semantics this reproduces
VERSION = "0.2.1"
# the grid every measurement is made on (mm), and the margin around the pulmonary artery (mm)
GRID_SPACING_MM = 0.8
CROP_MARGIN_MM = 20.0
# the pulmonary artery mask's file name in the official intermediate folder
PULMONARY_ARTERY_FILE = "pulmonary_artery.nii.gz"


@dataclass(frozen=True)
class Landmark:
    """A landmark of the pulmonary_artery_landmarks task: report id, class name, report label."""

    index: int
    name: str
    display_name: str

    @property
    def file_name(self) -> str:
        return f"{self.name}.nii.gz"


LANDMARKS: tuple[Landmark, ...] = (
    Landmark(1, "pul_annulus", "proximal MPA"),
    Landmark(2, "pul_sinotubular_junction", "sinotub. junc."),
    Landmark(3, "pul_bifurcation", "bifurcation"),
    Landmark(4, "pul_left_start", "left PA"),
    Landmark(5, "pul_right_start", "right PA"),
)


def default_metadata() -> dict[str, object]:
    """The metadata the official report writes when no node-info file is given (age 83, version).

    Examples:
        >>> default_metadata()["PatientAge"], default_metadata()["version"]
        (83, '0.2.1')
    """
    return {"PatientName": "Unknown", "PatientSex": "M", "PatientAge": 83, "PatientBirthDate": "19000101",
            "PatientID": "Unknown", "StudyID": "Unknown", "StudyDescription": "Unknown",
            "StudyDate": "19000101", "version": VERSION}


def metadata_from_nodeinfo(path: str | os.PathLike) -> dict[str, object]:
    """The metadata of a node-info JSON file, as the official report reads it: ``Patients*`` keys
    renamed to ``Patient*``, the age (default ``099Y``) in whole years, the report version added.

    Raises:
        InputError: the file cannot be read, or the age is in weeks or outside 5-150 years (where the
            official report stops without a result).

    Examples:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "nodeinfo.json"
        >>> _ = path.write_text('{"PatientsAge": "045Y", "PatientSex": "F"}')
        >>> metadata_from_nodeinfo(path)
        {'PatientSex': 'F', 'PatientAge': 45, 'version': '0.2.1'}
    """
    path = Path(path)
    try:
        metadata = json.loads(path.read_text(), strict=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the node-info JSON ({exc}); pass a JSON file of DICOM tags") from None
    for source, target in (("PatientsAge", "PatientAge"), ("PatientsSex", "PatientSex"),
                           ("PatientsBirthDate", "PatientBirthDate")):
        if source in metadata:
            metadata[target] = metadata.pop(source)
    metadata.setdefault("PatientAge", "099Y")
    age_text = str(metadata["PatientAge"])
    if "W" in age_text:
        raise InputError(f"{path}: patient age {age_text} is in weeks; the report is for patients aged 5-150 years")
    try:
        age = int(age_text.replace("Y", ""))
    except ValueError:
        raise InputError(f"{path}: patient age {age_text!r} is not a number of years (e.g. 045Y)") from None
    if not 5 <= age <= 150:
        raise InputError(f"{path}: patient age {age} is outside 5-150 years, where the official report stops")
    metadata["PatientAge"] = age
    metadata["version"] = VERSION
    return metadata
