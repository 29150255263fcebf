"""Missing report masks from our engine, as the official report's model runs make them.

The official report (``--run_models``) segments the heart with ``total --fast -rs heart``, crops the
CT to it plus 20 mm, resamples the crop to 0.8 mm (cubic, int16), and runs ``heartchambers_highres``
(the pulmonary artery) and ``pulmonary_artery_landmarks`` (the five landmarks) on it. Both are
licensed tasks: they run here only with a stored licence key and their weights; otherwise the report
says so for every mask they would have given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import nibabel as nib
import numpy as np

from totalseg.errors import TotalsegError
from totalseg.reports.pulmonary.grid import crop_to_masks, zoom_to_spacing
from totalseg.reports.pulmonary.landmarks import CROP_MARGIN_MM, GRID_SPACING_MM
from totalseg.reports.pulmonary.masks import ARTERY, MaskSet
from totalseg.settings import Settings

# which task gives which report mask
TASK_OF = {ARTERY: "heartchambers_highres"}
LANDMARK_TASK = "pulmonary_artery_landmarks"


@dataclass(frozen=True)
class EngineRun:
    """What our engine made: the masks, and the CT they lie on (the 0.8 mm heart crop), or None."""

    masks: MaskSet
    ct: nib.Nifti1Image | None


def tasks_for(names: Sequence[str]) -> dict[str, list[str]]:
    """The tasks that give these mask names, each with the names it gives.

    Examples:
        >>> tasks_for(["pulmonary_artery", "pul_annulus"])
        {'heartchambers_highres': ['pulmonary_artery'], 'pulmonary_artery_landmarks': ['pul_annulus']}
    """
    tasks: dict[str, list[str]] = {}
    for name in names:
        tasks.setdefault(TASK_OF.get(name, LANDMARK_TASK), []).append(name)
    return tasks


def run_models(ct: nib.Nifti1Image, missing: Sequence[str], *, device: str, settings: Settings,
               quiet: bool = True) -> EngineRun:
    """Segment the missing masks with our engine where the licensed tasks can run."""
    from totalseg.models.license import require_license

    tasks, failures = tasks_for(missing), {}
    for task, names in list(tasks.items()):
        try:
            require_license(settings.home_dir, task)
        except TotalsegError as exc:
            failures.update(dict.fromkeys(names, f"our engine cannot run {task}: {exc}"))
            del tasks[task]
    if not tasks:
        return EngineRun(MaskSet(failures=failures), None)
    try:
        model_ct = heart_crop(ct, device=device, settings=settings, quiet=quiet)
    except TotalsegError as exc:
        for task, names in tasks.items():
            failures.update(dict.fromkeys(names, f"our engine could not crop to the heart for {task} "
                                                 f"(total --fast, ROI heart): {exc}"))
        return EngineRun(MaskSet(failures=failures), None)
    images, origin = {}, {}
    for task, names in tasks.items():
        try:
            found = _segment_masks(model_ct, task, device=device, settings=settings, quiet=quiet)
        except TotalsegError as exc:
            failures.update(dict.fromkeys(names, f"our engine could not run {task}: {exc}"))
            continue
        for name in names:
            images[name], origin[name] = found[name], f"our engine ({task})"
    return EngineRun(MaskSet(images, origin, failures), model_ct)


def heart_crop(ct: nib.Nifti1Image, *, device: str, settings: Settings, quiet: bool) -> nib.Nifti1Image:
    """The CT cut to the heart (``total --fast``, ROI ``heart``) plus 20 mm, on a 0.8 mm grid (int16)."""
    heart = _segment_masks(ct, "total", device=device, settings=settings, quiet=quiet, fast=True, roi=["heart"])
    cropped = crop_to_masks(ct, [heart["heart"]], [CROP_MARGIN_MM] * 3, dtype=np.int16)
    resampled = zoom_to_spacing(cropped, GRID_SPACING_MM, order=3)
    return nib.Nifti1Image(np.asarray(resampled.dataobj).astype(np.int16), resampled.affine)


def _segment_masks(ct: nib.Nifti1Image, task: str, *, device: str, settings: Settings, quiet: bool,
                   fast: bool = False, roi: list[str] | None = None) -> dict[str, nib.Nifti1Image]:
    """Every class of one task run as a binary mask on the CT's grid."""
    from totalseg.api import segment
    from totalseg.io import load_label_map

    seg = segment(ct, task=task, fast=fast, roi_subset=roi, device=device, settings=settings, quiet=quiet,
                  keep_models=False)
    data = np.asanyarray(seg.dataobj)
    return {name: nib.Nifti1Image((data == label).astype(np.uint8), seg.affine)
            for label, name in load_label_map(seg).items()}
