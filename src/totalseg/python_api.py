"""``totalseg.totalsegmentator()``: the official Python API's signature on totalseg's engine.

A script written against ``from totalsegmentator.python_api import totalsegmentator`` runs unchanged
with ``from totalseg import totalsegmentator``: the same parameters, defaults and return value (the
segmentation, and with statistics the statistics dict too). Parameters of the official API that
totalseg does not reproduce yet are refused in one line when set, never silently ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import nibabel as nib

from totalseg.errors import InputError

# Official parameters that totalseg accepts with their default only (what setting them would ask for).
_NOT_YET = {
    "crop_path": None, "nora_tag": "None", "test": 0,
    "plans": "nnUNetPlans", "statistics_normalized_intensities": False,
}


def totalsegmentator(input: str | os.PathLike | nib.Nifti1Image, output: str | os.PathLike | None = None, ml=False,
                     nr_thr_resamp=1, nr_thr_saving=6, fast=False, nora_tag="None", preview=False, task="total",
                     roi_subset=None, statistics=False, radiomics=False, crop_path=None, body_seg=False,
                     force_split=False, output_type="nifti", quiet=False, verbose=False, test=0,
                     skip_saving=False, device="gpu", license_number=None, statistics_exclude_masks_at_border=True,
                     no_derived_masks=False, v1_order=False, fastest=False, roi_subset_robust=None,
                     stats_aggregation="mean", remove_small_blobs=False, statistics_normalized_intensities=False,
                     robust_crop=False, higher_order_resampling_LEGACY=False, higher_order_resampling=False,
                     save_probabilities=None, debug=False, report=None, statistics_extra=False, save_lowres=False,
                     resampling_order=1, plans="nnUNetPlans", model_size="big") -> Any:
    """Segment ``input`` as the official ``totalsegmentator()`` does; see :func:`totalseg.segment`.

    ``nr_thr_resamp``, ``nr_thr_saving``, ``verbose`` and ``debug`` are accepted and change nothing
    (totalseg starts no worker pools). ``roi_subset`` must be a list, as in the official API.

    Returns:
        The multilabel segmentation (nibabel image, uint8, label names in the NIfTI extension);
        with ``statistics``, ``(segmentation, statistics dict)``.

    Examples:
        >>> from totalseg import totalsegmentator
        >>> seg = totalsegmentator("ct.nii.gz", "segmentations", fast=True)  # doctest: +SKIP
    """
    given = {"crop_path": crop_path, "nora_tag": nora_tag, "test": test,
             "plans": plans,
             "statistics_normalized_intensities": statistics_normalized_intensities}
    unsupported = [name for name, value in given.items() if value != _NOT_YET[name]]
    if unsupported:
        raise InputError(f"{', '.join(unsupported)}: not supported by totalseg yet; leave at the default")
    for name, value in (("roi_subset", roi_subset), ("roi_subset_robust", roi_subset_robust)):
        if value is not None and not isinstance(value, list):
            raise InputError(f"{name} must be a list of strings")
    from totalseg.api import segment

    with tempfile.TemporaryDirectory(prefix="totalseg-stats-") as scratch:
        stats_path = _statistics_path(statistics, output, ml, output_type, Path(scratch))
        seg = segment(
            input, output, task=task, fast=fast, fastest=fastest, ml=ml, output_type=output_type,
            roi_subset=roi_subset, roi_subset_robust=roi_subset_robust, robust_crop=robust_crop, body_seg=body_seg,
            force_split=force_split, resampling_order=resampling_order, device=device, quiet=quiet,
            statistics=stats_path or False, statistics_extra=statistics_extra,
            statistics_include_incomplete=not statistics_exclude_masks_at_border,
            statistics_aggregation=stats_aggregation, preview=preview, keep_models=True,
            no_derived_masks=no_derived_masks, model_size=model_size, remove_small_blobs=remove_small_blobs,
            v1_order=v1_order, skip_saving=skip_saving, license_number=license_number, report=report,
            save_lowres=save_lowres, higher_order_resampling=higher_order_resampling,
            higher_order_resampling_LEGACY=higher_order_resampling_LEGACY, save_probabilities=save_probabilities,
            radiomics=radiomics,
        )
        if stats_path is None:
            return seg
        return seg, json.loads(stats_path.read_text())


def _statistics_path(statistics, output, ml: bool, output_type, scratch: Path) -> Path | None:
    """Where the official API writes statistics.json (a given path, beside the output, or nowhere:
    then a scratch file, read back for the return value)."""
    if not statistics:
        return None
    if isinstance(statistics, (str, os.PathLike)):
        return Path(statistics).absolute()
    if output is None:
        return scratch / "statistics.json"
    out = Path(output)
    dicom = output_type in ("dicom_seg", "dicom_rtstruct")
    return (out.parent if ml or dicom else out) / "statistics.json"
