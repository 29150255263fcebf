"""The pulmonary report's five landmarks, and its version (the ``metadata`` block is
:func:`totalseg.reports.nodeinfo.report_metadata` with ``VERSION``).

Examples:
    >>> [lm.file_name for lm in LANDMARKS][:2]
    ['pul_annulus.nii.gz', 'pul_sinotubular_junction.nii.gz']
"""

from __future__ import annotations

from dataclasses import dataclass

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
