"""The pulmonary report's five landmarks, its version and the metadata it writes without a node file.

Examples:
    >>> [lm.file_name for lm in LANDMARKS][:2]
    ['pul_annulus.nii.gz', 'pul_sinotubular_junction.nii.gz']
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from totalseg.reports.nodeinfo import report_metadata

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
    return report_metadata(None, version=VERSION)


def metadata_from_nodeinfo(path: str | os.PathLike) -> dict[str, object]:
    """The metadata of a node-info JSON file, as the official report reads it (the shared rules of
    :mod:`totalseg.reports.nodeinfo`): ``Patients*`` keys renamed to ``Patient*``, the age (default
    ``099Y``) in whole years, the report version added; the defaults when no such file exists.

    Raises:
        InputError: the file cannot be read, or the age is in weeks or outside 5-150 years (where the
            official report stops without a result).

    Examples:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "nodeinfo.json"
        >>> _ = path.write_text('{"PatientsAge": "045Y", "PatientSex": "F"}')
        >>> metadata_from_nodeinfo(path)
        {'PatientSex': 'F', 'PatientAge': 45, 'version': '0.2.1'}
    """
    return report_metadata(path, version=VERSION)
