"""CT contrast phase: the official ``totalseg_get_phase`` of TotalSegmentator 2.18.0.

The official method predicts the time since contrast injection (``pi_time``, seconds) from 20
median intensities:

- 16 structures of the ``total --fast`` segmentation, measured as its ``--statistics -sa median
  -sii`` measures them (the int16 image on the 3 mm model grid, structures at the border included);
- 4 neck vessels of ``headneck_bones_vessels`` (measured on the input grid), only when the brain's
  volume exceeds 100 mm3; otherwise these 4 features are 0.0.

Five boosted regressors (the official pickled file, read without unpickling by
:mod:`totalseg.measure.forest`) each predict ``pi_time``; their mean, rounded to 2 decimals, gives
the phase by :func:`pi_time_to_phase`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from totalseg.errors import InputError
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.measure.classifier_files import PHASE_FILE, RESOURCES_URL, classifier_path
from totalseg.measure.forest import Forest, read_pickled_boosters
from totalseg.settings import Settings

ORGANS = ("liver", "pancreas", "urinary_bladder", "gallbladder", "heart", "aorta", "inferior_vena_cava",
          "portal_vein_and_splenic_vein", "iliac_vena_left", "iliac_vena_right", "iliac_artery_left",
          "iliac_artery_right", "pulmonary_vein", "brain", "colon", "small_bowel")
NECK_VESSELS = ("internal_carotid_artery_right", "internal_carotid_artery_left", "internal_jugular_vein_right",
                "internal_jugular_vein_left")
BRAIN_MIN_MM3 = 100.0
# (upper bound of pi_time in s, phase, probability); the official tool's table
PHASES = ((5, "native", 1.0), (10, "native", 0.7), (20, "arterial_early", 0.7), (30, "arterial_early", 1.0),
          (50, "arterial_late", 1.0), (60, "arterial_late", 0.7), (90, "portal_venous", 1.0),
          (100, "portal_venous", 0.7))

Stats = Mapping[str, Mapping[str, Any]]


def pi_time_to_phase(pi_time: float) -> tuple[str, float]:
    """The phase of a post-injection time (s) and how sure the official table is of it.

    Examples:
        >>> pi_time_to_phase(4.99), pi_time_to_phase(35.0), pi_time_to_phase(120.0)
        (('native', 1.0), ('arterial_late', 1.0), ('portal_venous', 0.3))
    """
    for upper, phase, probability in PHASES:
        if pi_time < upper:
            return phase, probability
    return "portal_venous", 0.3


def needs_neck(stats: Stats) -> bool:
    """Whether the official tool runs the head-neck model: the brain is larger than 100 mm3."""
    return _entry(stats, "brain", "volume") > BRAIN_MIN_MM3


def phase_features(stats: Stats, neck_stats: Stats | None) -> np.ndarray:
    """The 20 features in the official order (float64): ``stats[organ]["intensity"]`` of
    :data:`ORGANS`, then of :data:`NECK_VESSELS` from ``neck_stats`` (0.0 without it).

    Examples:
        >>> stats = {name: {"volume": 0.0, "intensity": 10.0} for name in ORGANS}
        >>> phase_features(stats, None)[[0, 15, 16]].tolist()
        [10.0, 10.0, 0.0]
    """
    organs = [_entry(stats, name, "intensity") for name in ORGANS]
    neck = [_entry(neck_stats, name, "intensity") if neck_stats is not None else 0.0 for name in NECK_VESSELS]
    return np.array(organs + neck, dtype=np.float64)


def predict_phase(features: np.ndarray, regressors: Sequence[Forest]) -> dict[str, Any]:
    """The official result for one feature vector: ``pi_time`` (mean of the regressors, 2 decimals),
    ``phase``, ``probability``, ``pi_time_min``, ``pi_time_max`` and ``stddev`` (4 decimals)."""
    preds = np.array([forest.predict(np.asarray(features)[None])[0] for forest in regressors])
    pi_time = round(float(np.mean(preds)), 2)
    phase, probability = pi_time_to_phase(pi_time)
    return {"pi_time": pi_time, "phase": phase, "probability": probability,
            "pi_time_min": round(float(preds.min()), 2), "pi_time_max": round(float(preds.max()), 2),
            "stddev": round(float(np.std(preds)), 4)}


def load_phase_regressors(*, weights_dir: Path, download: bool = True, base_url: str = RESOURCES_URL) -> list[Forest]:
    """The five official regressors, from the verified classifier file (fetched when missing)."""
    path = classifier_path(PHASE_FILE, weights_dir=weights_dir, download_missing=download, base_url=base_url)
    return read_pickled_boosters(path, expected=5)


def get_phase(
    input: str | os.PathLike,
    *,
    seg: str | os.PathLike | None = None,
    seg_headneck: str | os.PathLike | None = None,
    stats: str | os.PathLike | None = None,
    settings: Settings | None = None,
    device: str = "cpu",
    download: bool = True,
    quiet: bool = True,
) -> dict[str, Any]:
    """Predict the contrast phase of a CT image, as ``totalseg_get_phase`` does.

    Args:
        input: the CT (any image ``totalseg segment`` reads).
        seg: an existing ``total`` segmentation on the CT's grid (multilabel file or mask folder)
            instead of the ``total --fast`` run; its medians are measured on the CT's grid.
        seg_headneck: with ``seg``, an existing ``headneck_bones_vessels`` segmentation for the neck
            features; without it they are 0.0 (no model runs when ``seg`` is given).
        stats: an existing ``statistics.json`` of ``total`` (``-sa median -sii``) instead of the
            ``total --fast`` run, as the official ``-s``; the head-neck model still runs if the
            brain is there.
        settings: weights location; from the environment when omitted.
        device: ``cpu``, ``gpu``, ``gpu:N`` or ``mps`` for the model runs.
        download: fetch missing weights and the classifier file.
        quiet: no progress output.

    Returns:
        The official result dict (see :func:`predict_phase`).

    Examples:
        >>> get_phase("ct.nii.gz")  # doctest: +SKIP
        {'pi_time': 71.37, 'phase': 'portal_venous', 'probability': 1.0, ...}
    """
    settings = settings or Settings.from_env()
    if seg_headneck is not None and seg is None:
        raise InputError("--seg-headneck goes with --seg; pass the total segmentation too")
    if seg is not None and stats is not None:
        raise InputError("pass either --seg or --stats, not both")
    regressors = load_phase_regressors(weights_dir=settings.weights_dir, download=download)
    run = dict(settings=settings, device=device, download=download, quiet=quiet)
    if seg is not None:
        from totalseg.measure.segmentations import medians_from_segmentation

        total = medians_from_segmentation(input, seg, "total")
        neck = medians_from_segmentation(input, seg_headneck, "headneck_bones_vessels") \
            if seg_headneck is not None else None
    else:
        total = _read_stats(stats) if stats is not None else _model_stats(input, "total", fast=True, **run)
        neck = _model_stats(input, "headneck_bones_vessels", fast=False, **run) if needs_neck(total) else None
    return predict_phase(phase_features(total, neck if needs_neck(total) else None), regressors)


def phase_of_segmentation(image: Volume, labels: LabelVolume, *, settings: Settings | None = None,
                          device: str = "cpu", download: bool = True, quiet: bool = True) -> dict[str, Any]:
    """The contrast phase of a CT from its ``total`` labels on its grid (the web app's case), as
    ``get_phase`` with the official ``-s`` statistics: medians measured here, and the head-neck
    model run when the brain is in the image.

    Examples:
        >>> phase_of_segmentation(ct, total_labels)["phase"]  # doctest: +SKIP
        'portal_venous'
    """
    from totalseg.anatomy.class_maps import class_map
    from totalseg.measure.statistics import compute_statistics

    settings = settings or Settings.from_env()
    regressors = load_phase_regressors(weights_dir=settings.weights_dir, download=download)
    total = compute_statistics(image, labels, class_map("total"), include_incomplete=True, aggregation="median")
    neck = _model_stats(image, "headneck_bones_vessels", fast=False, settings=settings, device=device,
                        download=download, quiet=quiet) if needs_neck(total) else None
    return predict_phase(phase_features(total, neck), regressors)


def _model_stats(input, task: str, *, fast: bool, settings: Settings, device: str, download: bool,
                 quiet: bool) -> dict:
    """``statistics.json`` of one model run with the official ``-sa median -sii``."""
    from totalseg.api import segment

    with tempfile.TemporaryDirectory(prefix="totalseg_phase_") as tmp:
        path = Path(tmp) / "statistics.json"
        segment(input, None, task=task, fast=fast, statistics=path, statistics_include_incomplete=True,
                statistics_aggregation="median", settings=settings, device=device, download=download,
                quiet=quiet, keep_models=False)
        return json.loads(path.read_text())


def _read_stats(path: str | os.PathLike) -> dict:
    try:
        stats = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the statistics ({exc}); pass a statistics.json of "
                         "`totalseg segment --statistics -sa median -sii`") from None
    if not isinstance(stats, dict):
        raise InputError(f"{path}: expected a statistics.json object of structures, got {type(stats).__name__}")
    return stats


def _entry(stats: Stats, name: str, key: str) -> float:
    try:
        return float(stats[name][key])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"the statistics have no {key} for {name}; pass statistics of the whole task "
                         "(total or headneck_bones_vessels), not a ROI subset") from None
