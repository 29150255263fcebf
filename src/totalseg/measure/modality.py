"""CT or MR: the official ``totalseg_get_modality`` of TotalSegmentator 2.18.0.

Two official classifier sets, five boosted stumps/trees each, vote:

- by default on ``[mean, std, min, max]`` of the whole image (float64, as ``get_fdata()``);
- with ``normalized=True`` on 16 medians of the min-max normalized int16 image within structures
  of ``total_mr --fast``, measured on its 3 mm model grid with structures at the border included
  (the official ``statistics_normalized_intensities``). The official code builds these features
  starting with ``brain``, while the models were trained with ``brain`` last; xgboost does not
  check the order of a plain list, so every feature lands one place off. We feed the same order,
  since the point is the official answer.

The result is ``{"modality": "ct" | "mr", "probability": vote fraction}``: the mean of the five
0/1 labels below 0.5 means ``ct``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.measure.classifier_files import (
    MODALITY_FILES,
    NORMALIZED_MODALITY_FILES,
    RESOURCES_URL,
    classifier_path,
)
from totalseg.measure.forest import Forest, read_model_file
from totalseg.measure.statistics import image_as_int16
from totalseg.settings import Settings

# the order the official code feeds (brain first; the models expect it last, see above)
NORMALIZED_ORGANS = ("brain", "esophagus", "colon", "spinal_cord", "scapula_left", "scapula_right", "femur_left",
                     "femur_right", "hip_left", "hip_right", "gluteus_maximus_left", "gluteus_maximus_right",
                     "autochthon_left", "autochthon_right", "iliopsoas_left", "iliopsoas_right")


def image_features(array: np.ndarray) -> np.ndarray:
    """``[mean, std, min, max]`` of the image as float64 (reduced in the array's memory order).

    Examples:
        >>> image_features(np.array([[[0, 2], [4, 6]]], dtype=np.int16)).tolist()
        [3.0, 2.23606797749979, 0.0, 6.0]
    """
    data = np.asarray(array, dtype=np.float64, order="K")
    return np.array([np.mean(data), np.std(data), np.min(data), np.max(data)])


def normalized_medians(image: Volume, labels: LabelVolume, classes: Mapping[int, str]) -> dict[str, float]:
    """Median of ``(x - min) / (max - min)`` (the int16 image, its own min and max, int16
    arithmetic as numpy does it) within each structure, rounded to 5 decimals; 0.0 when absent."""
    ct = image_as_int16(image.array)
    low, high = ct.min(), ct.max()
    label_array = np.asarray(labels.array)
    out = {}
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        span = high - low
        for class_id, name in classes.items():
            values = ct[label_array == class_id]
            out[name] = float(np.median((values - low) / span).round(5)) if values.size else 0.0
    return out


def vote(features: np.ndarray, classifiers: Sequence[Forest]) -> dict[str, Any]:
    """The official ensemble answer for one feature vector."""
    labels = np.array([forest.predict(np.asarray(features)[None])[0] for forest in classifiers])
    share = np.mean(labels)
    return {"modality": "ct" if share < 0.5 else "mr", "probability": float(1 - share if share < 0.5 else share)}


def load_modality_classifiers(*, normalized: bool, weights_dir: Path, download: bool = True,
                              base_url: str = RESOURCES_URL) -> list[Forest]:
    """The five official classifiers of one set, from verified files (fetched when missing)."""
    files = NORMALIZED_MODALITY_FILES if normalized else MODALITY_FILES
    return [read_model_file(classifier_path(f, weights_dir=weights_dir, download_missing=download,
                                            base_url=base_url)) for f in files]


def get_modality(
    input: str | os.PathLike,
    *,
    normalized: bool = False,
    settings: Settings | None = None,
    device: str = "cpu",
    download: bool = True,
    quiet: bool = True,
) -> dict[str, Any]:
    """Predict whether an image is CT or MR, as ``totalseg_get_modality`` (``-n``: ``normalized``).

    Examples:
        >>> get_modality("scan.nii.gz")  # doctest: +SKIP
        {'modality': 'ct', 'probability': 1.0}
    """
    from totalseg.io import read_volume

    settings = settings or Settings.from_env()
    classifiers = load_modality_classifiers(normalized=normalized, weights_dir=settings.weights_dir,
                                            download=download)
    vol = read_volume(input)
    if not normalized:
        return vote(image_features(vol.array), classifiers)
    image, labels, classes = _total_mr_fast_grid(vol, settings=settings, device=device, download=download,
                                                 quiet=quiet)
    medians = normalized_medians(image, labels, classes)
    return vote(np.array([medians[name] for name in NORMALIZED_ORGANS]), classifiers)


def modality_of_image(image: Volume, *, settings: Settings | None = None, download: bool = True) -> dict[str, Any]:
    """CT or MR from the image's intensities alone (the official classifiers without ``-n``), for an
    image already read (the web app's case).

    Examples:
        >>> modality_of_image(vol)  # doctest: +SKIP
        {'modality': 'ct', 'probability': 1.0}
    """
    settings = settings or Settings.from_env()
    classifiers = load_modality_classifiers(normalized=False, weights_dir=settings.weights_dir, download=download)
    return vote(image_features(image.array), classifiers)


def _total_mr_fast_grid(vol: Volume, *, settings: Settings, device: str, download: bool, quiet: bool):
    """The 3 mm model-grid image and labels of a ``total_mr --fast`` run (where the official tool
    computes its ``--fast`` statistics)."""
    from dataclasses import replace

    from totalseg.engine.devices import device_from_name
    from totalseg.engine.segment import SegmentRequest, needed_models, segment_volume
    from totalseg.limits import check_image_size
    from totalseg.measure.reports import ModelGridCapture
    from totalseg.models.model import load_model
    from totalseg.models.store import WeightsStore
    from totalseg.models.tasks import get_task

    check_image_size("the input image", vol.shape)
    task = get_task("total_mr", "fast")
    request = SegmentRequest(task)
    store = WeightsStore(settings.weights_dir)
    for spec in needed_models(request):
        if download and not store.has(spec):
            store.download(replace(task, models=(spec,)), progress=not quiet)
        store.require(spec)
    torch_device = device_from_name(device)
    grid = ModelGridCapture()
    segment_volume(vol, request, lambda spec: load_model(store.model_dir(spec), device=torch_device,
                                                         folds=spec.folds, cache=False), on_model_grid=grid)
    return grid.image, grid.labels, task.classes
