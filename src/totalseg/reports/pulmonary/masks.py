"""The masks the pulmonary report measures, from the official intermediate folder, mask folders or
multilabel files, and why a missing one cannot be replaced.

The official report reads ``pulmonary_artery.nii.gz`` (TotalSegmentator's ``heartchambers_highres``
task, licensed) and ``pul_annulus``, ``pul_sinotubular_junction``, ``pul_bifurcation``,
``pul_left_start`` and ``pul_right_start`` (the ``pulmonary_artery_landmarks`` task, licensed and
served by its authors) from one folder. The open ``total`` task has no pulmonary artery class
(``pulmonary_vein`` and ``heart`` only), so it cannot stand in for either.

Examples:
    >>> MaskSet().missing_reason("pul_bifurcation").startswith("the pul_bifurcation mask")
    True
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.errors import InputError
from totalseg.io import load_label_map
from totalseg.reports.pulmonary.landmarks import LANDMARKS, PULMONARY_ARTERY_FILE

ARTERY = PULMONARY_ARTERY_FILE.removesuffix(".nii.gz")
_WANTED = (ARTERY, *(lm.name for lm in LANDMARKS))
# where each mask comes from in TotalSegmentator
_SOURCES = {ARTERY: "the heartchambers_highres task, licensed; the open total task has no pulmonary artery class"}
_LANDMARK_SOURCE = "the pulmonary_artery_landmarks task, licensed and run by its authors"


@dataclass
class MaskSet:
    """The report's masks by class name (``pulmonary_artery``, ``pul_*``), as NIfTI images.

    Attributes:
        images: class name -> mask image (non-zero = inside).
        origin: class name -> where it was read from (file or engine run), for the report's notes.
        failures: class name -> why our engine could not produce it (e.g. licensed weights missing).
    """

    images: dict[str, nib.Nifti1Image] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def missing(self) -> tuple[str, ...]:
        """The wanted class names without a mask."""
        return tuple(name for name in _WANTED if name not in self.images)

    def add(self, other: MaskSet) -> MaskSet:
        """A new set with ``other``'s masks for the classes this one lacks."""
        images, origin = dict(self.images), dict(self.origin)
        for name, img in other.images.items():
            if name not in images:
                images[name], origin[name] = img, other.origin[name]
        return MaskSet(images, origin, {**other.failures, **self.failures})

    def missing_reason(self, name: str) -> str:
        """Why the mask ``name`` is not there, as a sentence fragment."""
        source = _SOURCES.get(name, _LANDMARK_SOURCE)
        reason = f"the {name} mask ({source}) was not given"
        return f"{reason}, and {self.failures[name]}" if name in self.failures else reason


def masks_from_path(path: str | os.PathLike) -> MaskSet:
    """The report's masks in a folder (``<class>.nii.gz``, the official intermediate layout) or in a
    multilabel file whose header names its labels (``--ml`` output).

    Raises:
        InputError: the path does not exist, or a multilabel file has no label names.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> nib.save(nib.Nifti1Image(np.ones((2, 2, 2), np.uint8), np.eye(4)), folder / "pul_annulus.nii.gz")
        >>> found = masks_from_path(folder)
        >>> sorted(found.images), "pulmonary_artery" in found.missing()
        (['pul_annulus'], True)
    """
    path = Path(path)
    if path.is_dir():
        images = {name: nib.load(path / f"{name}.nii.gz") for name in _WANTED if (path / f"{name}.nii.gz").is_file()}
        return MaskSet(images, {name: str(path / f"{name}.nii.gz") for name in images})
    if not path.is_file():
        raise InputError(f"{path}: no such segmentation file or folder; pass the folder of the masks "
                         "(pulmonary_artery.nii.gz, pul_*.nii.gz) or a multilabel file")
    img = nib.load(path)
    data = np.asanyarray(img.dataobj)
    images = {}
    for label_id, name in load_label_map(img).items():
        if name in _WANTED:
            images[name] = nib.Nifti1Image((data == label_id).astype(np.uint8), img.affine, img.header)
    return MaskSet(images, {name: f"{path} (label {name})" for name in images})
