"""Body weight, height, age, sex (and BMI, body surface area) estimated from a CT or MR: the official
``totalseg_get_body_stats`` of TotalSegmentator 2.18.0 with its default CNN models, which the
official MCP tool ``estimate_body_statistics`` runs.

Each of the five folds predicts every target from the same input (:mod:`.body_stats_input`); a
regression target is de-normalized per fold (``reg_target_mean``/``reg_target_std``) and reported
as the fold mean rounded to 2 decimals with ``min``, ``max`` and ``stddev``; sex and contrast are
the mean score thresholded at 0.5 with the mean class probability; manufacturer, MR sequence and
the upper/lower vertebra are the nearest class of the mean. BMI and the Mosteller body surface
area come from the rounded weight and height. These are model estimates, not patient records.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from totalseg.imaging.volume import Volume
from totalseg.measure.body_stats_model import DEFAULT_TARGETS, FOLDS, ensure_model, load_fold
from totalseg.settings import Settings

MODALITIES = ("ct", "mr")
# target: (name in training, unit)
TARGETS = {
    "weight": ("PatientWeight", "kg"), "size": ("PatientSize", "cm"), "age": ("PatientAge", "years"),
    "sex": ("PatientSex_01", None), "manufacturer": ("Manufacturer_int", None), "contrast": ("contrast", None),
    "verte_upper": ("verte_upper", None), "verte_lower": ("verte_lower", None), "noise": ("noise_p75", None),
    "mr_sequence": ("mr_sequence_int", None), "kvp": ("KVP", "kV"), "xray_tube_current": ("XRayTubeCurrent", "mA"),
    "convolution_kernel": ("ConvolutionKernel", None), "pi_time": ("pi_time", "seconds"),
}
BY_TRAINING_NAME = {training: target for target, (training, _) in TARGETS.items()}
TARGET_ORDERS = {
    "mr": (*DEFAULT_TARGETS, "Manufacturer_int", "contrast", "verte_upper", "verte_lower", "noise_p75",
           "mr_sequence_int"),
    "ct": (*DEFAULT_TARGETS, "Manufacturer_int", "KVP", "XRayTubeCurrent", "ConvolutionKernel", "contrast",
           "pi_time", "verte_upper", "verte_lower", "noise_p75"),
}
MANUFACTURERS = {"siemens": 0, "philips": 1, "ge": 2, "toshiba": 3, "canon": 4, "other": 5}
MR_SEQUENCES = {"t1": 0, "pd": 1, "t2": 2, "flair": 3, "stir": 4, "t2star": 5, "swi": 6, "dwi": 7, "mra": 8,
                "other": 9}
VERTEBRAE = {f"vertebrae_{name}": position for position, name in enumerate(
    [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)], start=1)}


def estimate_body_stats(input: str | os.PathLike, *, modality: str, settings: Settings | None = None,
                        device: str = "cpu", folds: Sequence[int] = FOLDS, download: bool = True,
                        quiet: bool = True) -> dict[str, Any]:
    """The official body-statistics estimate of an image (NIfTI, NRRD, MHA or DICOM).

    Examples:
        >>> estimate_body_stats("ct.nii.gz", modality="ct")  # doctest: +SKIP
        {'weight': {'value': 81.3, 'unit': 'kg', 'min': ..., 'max': ..., 'stddev': ...}, ..., 'bsa': {...}}
    """
    from totalseg.engine.devices import device_from_name
    from totalseg.errors import InputError
    from totalseg.io import read_volume

    if modality not in MODALITIES:
        raise InputError(f"modality {modality!r}: expected ct or mr")
    settings = settings or Settings.from_env()
    folder = ensure_model(settings.weights_dir, modality, download=download, progress=not quiet)
    preds, hparams = predict(read_volume(input), folder, modality=modality, device=device_from_name(device),
                             folds=folds)
    return with_bmi_and_bsa(format_body_stats(preds, hparams, modality))


def predict(vol: Volume, folder: Path, *, modality: str, device: torch.device,
            folds: Sequence[int] = FOLDS) -> tuple[np.ndarray, dict[str, Any]]:
    """De-normalized predictions ``(folds, targets)`` float32 and the first fold's hyper-parameters
    (which, as in the official code, also shape the input)."""
    from totalseg.measure.body_stats_input import model_input

    preds, first = [], None
    with torch.inference_mode():
        for fold in folds:
            network, hparams = load_fold(folder, fold, device)
            if first is None:
                first = hparams
                batch = torch.from_numpy(model_input(vol, first, modality)[None]).to(device)
            out = np.atleast_2d(np.asarray(network(batch).detach().float().cpu().numpy(), dtype=np.float32))
            preds += [denormalize(row, hparams) for row in out]
    return np.stack(preds), first


def denormalize(pred: np.ndarray, hparams: Mapping[str, Any]) -> np.ndarray:
    """``pred * reg_target_std + reg_target_mean`` where the targets were normalized in training.

    Examples:
        >>> denormalize(np.array([0.5, -1.0], np.float32), {"reg_target_normalize": True,
        ...             "reg_target_mean": [70, 170], "reg_target_std": [10, 8]}).tolist()
        [75.0, 162.0]
    """
    if not hparams.get("reg_target_normalize", False):
        return pred
    means = np.asarray(hparams.get("reg_target_mean", []), dtype=np.float32)
    stds = np.asarray(hparams.get("reg_target_std", []), dtype=np.float32)
    if means.size == 0 or stds.size == 0:
        return pred
    means = np.repeat(means, pred.size) if means.size == 1 and pred.size != 1 else means
    stds = np.repeat(stds, pred.size) if stds.size == 1 and pred.size != 1 else stds
    if means.size != pred.size or stds.size != pred.size:
        raise ValueError(f"reg_target_mean/std have {means.size}/{stds.size} values for {pred.size} outputs")
    return pred * stds.reshape(pred.shape) + means.reshape(pred.shape)


def target_names(hparams: Mapping[str, Any], n_outputs: int, modality: str) -> list[str]:
    """The training name of each output: ``reg_target_names``, else the official order for the count.

    Examples:
        >>> target_names({}, 13, "ct")[4:6]
        ['Manufacturer_int', 'KVP']
    """
    names = list(hparams.get("reg_target_names") or [])
    if names:
        if len(names) != n_outputs:
            raise ValueError(f"the checkpoint names {len(names)} targets but the network gives {n_outputs}")
        return names
    if n_outputs == len(TARGET_ORDERS[modality]):
        return list(TARGET_ORDERS[modality])
    return list(DEFAULT_TARGETS) if n_outputs == len(DEFAULT_TARGETS) else []


def format_body_stats(preds: np.ndarray, hparams: Mapping[str, Any], modality: str) -> dict[str, Any]:
    """The official result dict for predictions ``(n, targets)``: one entry per target the model has
    (MR results leave out the manufacturer)."""
    n_outputs = preds.shape[1] if preds.ndim > 1 else 1
    names = target_names(hparams, n_outputs, modality)
    result = {}
    for training_name in names:
        target = BY_TRAINING_NAME.get(training_name)
        if target is None:
            raise ValueError(f"unknown body-stats target {training_name!r}")
        if modality == "mr" and target == "manufacturer":
            continue
        column = preds[:, names.index(training_name)] if n_outputs > 1 else preds.reshape(-1)
        result[target] = format_target(column, target)
    return result


def format_target(values: np.ndarray, target: str) -> dict[str, Any]:
    """One target's entry from its per-fold values.

    Examples:
        >>> format_target(np.array([70.0, 80.0], np.float32), "weight")
        {'value': 75.0, 'unit': 'kg', 'min': 70.0, 'max': 80.0, 'stddev': 5.0}
        >>> format_target(np.array([0.9, 0.7], np.float32), "sex")
        {'value': 'M', 'unit': None, 'probability': 0.8, 'stddev': 0.1}
    """
    values = values.reshape(-1).astype(np.float32)
    if target in ("sex", "contrast"):
        return _binary(values, *(("F", "M") if target == "sex" else ("no", "yes")))
    if target in ("manufacturer", "mr_sequence"):
        return _nearest_class(values, MANUFACTURERS if target == "manufacturer" else MR_SEQUENCES, "other")
    if target in ("verte_upper", "verte_lower"):
        result = _nearest_class(values, VERTEBRAE, None, max_distance=2)
        if result["value"] is not None:
            result["value"] = result["value"].removeprefix("vertebrae_")
        return result
    result: dict[str, Any] = {"value": round(float(np.mean(values)), 2), "unit": TARGETS[target][1]}
    if len(values) > 1:
        result.update(min=round(float(np.min(values)), 2), max=round(float(np.max(values)), 2),
                      stddev=round(float(np.std(values)), 4))
    return result


def _binary(values: np.ndarray, negative: str, positive: str) -> dict[str, Any]:
    is_positive = float(np.mean(values)) >= 0.5
    probabilities = np.clip(values if is_positive else 1.0 - values, 0.0, 1.0)
    result: dict[str, Any] = {"value": positive if is_positive else negative, "unit": None}
    if len(probabilities) > 1:
        result.update(probability=round(float(np.mean(probabilities)), 4),
                      stddev=round(float(np.std(probabilities)), 4))
    return result


def _nearest_class(values: np.ndarray, classes: Mapping[str, int], fallback: str | None,
                   max_distance: int | None = None) -> dict[str, Any]:
    index = int(np.floor(float(np.mean(values)) + 0.5))
    names = {number: name for name, number in classes.items()}
    if index not in names and max_distance is not None:
        closest = min(names, key=lambda number: abs(number - index))
        index = closest if abs(closest - index) <= max_distance else index
    result: dict[str, Any] = {"value": names.get(index, fallback), "unit": None}
    if len(values) > 1:
        result["stddev"] = round(float(np.std(values)), 4)
    return result


def with_bmi_and_bsa(result: dict[str, Any]) -> dict[str, Any]:
    """``bmi`` (kg/m^2) and the Mosteller ``bsa`` (m^2) from the estimated weight and height.

    Examples:
        >>> with_bmi_and_bsa({"weight": {"value": 80.0}, "size": {"value": 180.0}})["bsa"]
        {'value': 2.0, 'unit': 'm^2'}
    """
    weight_kg, height_cm = result["weight"]["value"], result["size"]["value"]
    bmi = weight_kg / (height_cm / 100.0) ** 2
    bsa = float(np.sqrt((height_cm * weight_kg) / 3600))
    return {**result, "bmi": {"value": round(bmi, 2), "unit": "kg/m^2"}, "bsa": {"value": round(bsa, 2), "unit": "m^2"}}
