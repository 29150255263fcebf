"""The segment flow for one task on one volume, with the official tool's semantics.

crop (ROI / body) -> canonical RAS -> resample to the model spacing -> [z-split] -> each model:
the image as its nnU-Net reader sees it, nnU-Net's inference (``engine.inference``), part labels
to global ids (a later part wins) -> labels back to the input grid (order 0) -> undo canonical ->
undo crop -> keep the ROI classes. A task that is not ``canonical`` (``--model-dir``) skips the
reorientation, and one without a spacing leaves resampling to nnU-Net, as ``nnUNetv2_predict`` does.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from totalseg.engine.inference import TileProgress, predict_image, predict_image_probabilities
from totalseg.engine.label_resampling import one_hot_crop_resample
from totalseg.engine.postprocess import (
    keep_largest_blob,
    remove_labels,
    remove_small_blobs,
    remove_small_blobs_per_label,
)
from totalseg.engine.probabilities import nnunet_properties, write_probabilities
from totalseg.engine.reader_view import reader_view
from totalseg.engine.vertebrae import postprocess_vertebrae_pp, voxel_volume_mm3
from totalseg.errors import WeightsError
from totalseg.imaging.crop import crop, margin_in_voxels, mask_bbox, uncrop
from totalseg.imaging.orientation import to_canonical
from totalseg.imaging.resample import header_zooms, resample_to_shape, resample_to_spacing
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.limits import check_grid_size
from totalseg.models.model import Model
from totalseg.models.tasks import ModelSpec, Task

# The official tool splits volumes above this many voxels (and > 200 slices) into 3 z-slabs.
SPLIT_VOXELS = 512 * 512 * 900
SPLIT_MARGIN = 20

ModelLoader = Callable[[ModelSpec], Model]


# Receives the image on the model grid (cropped, canonical, resampled, int32) and its labels there.
ModelGridCallback = Callable[[Volume, LabelVolume], None]


@dataclass(frozen=True)
class RunOptions:
    """How to run a task: the knobs of the official pipeline plus our precision choice."""

    resampling_order: int = 1
    force_split: bool = False
    precision: str = "nnunet"
    cropped_logits: bool = False  # --higher_order_resampling's export (engine.cropped_export)
    # --save_probabilities: the task's last model's softmax goes here (engine.probabilities); the
    # official tool then exports logits the usual way, so ``cropped_logits`` does not apply
    probabilities: str | os.PathLike | None = None

    def without_probabilities(self) -> RunOptions:
        """These options for a helper run (crop, body, refinement): the official tool saves the
        probabilities of the task's own models only."""
        return replace(self, probabilities=None)


def run_task(
    vol: Volume,
    task: Task,
    load: ModelLoader,
    *,
    options: RunOptions = RunOptions(),
    crop_mask: np.ndarray | None = None,
    crop_margin_mm: tuple[float, float, float] = (3, 3, 3),
    only_models: Sequence[int] | None = None,
    progress: TileProgress | None = None,
    on_model_grid: ModelGridCallback | None = None,
    small_blobs_mm3: float | None = None,
    lowres: bool = False,
    legacy_keep: Sequence[int] | None = None,
) -> LabelVolume:
    """Labels of ``task`` on the grid of ``vol`` (uint8, global label ids of ``task.classes``).

    ``on_model_grid`` sees the model-grid image and labels before they go back to the input grid
    (the official tool computes ``--fast`` statistics there).
    """
    work, bbox = vol, None
    if crop_mask is not None:
        bbox = mask_bbox(crop_mask, margin_vox=margin_in_voxels(vol.affine, crop_margin_mm))
        if bbox is None:
            return LabelVolume(np.zeros(vol.shape, np.uint8), affine=vol.affine, header=vol.header)
        work = crop(vol, bbox, dtype=np.int32)
    canonical, how = to_canonical(work) if task.canonical else (work, None)
    if task.spacing_mm is not None:
        target = (task.spacing_mm,) * 3 if np.isscalar(task.spacing_mm) else task.spacing_mm
        check_grid_size("the image", canonical.shape, header_zooms(canonical.affine), target)
    model_grid = canonical if task.spacing_mm is None else resample_to_spacing(
        canonical, spacing_mm=task.spacing_mm, order=options.resampling_order, dtype=np.int32
    )
    models = [m for m in task.models if only_models is None or m.model_id in only_models]
    labels = _predict_models(model_grid, _header_zooms(model_grid, task), task, models, load, options, progress)
    labels = model_grid_steps(labels, task, header_zooms(model_grid.affine), small_blobs_mm3=small_blobs_mm3)
    if on_model_grid is not None:
        on_model_grid(Volume(model_grid.array, affine=model_grid.affine), LabelVolume(labels, affine=model_grid.affine))
    if lowres:  # --save_lowres: the model grid, back in the input's axis order (no crop is allowed)
        on_grid = LabelVolume(labels, affine=model_grid.affine)
        return on_grid if how is None else how.undo_on_grid(on_grid)
    if legacy_keep is not None:  # --higher_order_resampling_LEGACY: the kept labels, one at a time, linearly
        kept = labels if not legacy_keep else np.where(np.isin(labels, legacy_keep), labels, 0).astype(np.uint8)
        back = kept if kept.shape == canonical.shape else one_hot_crop_resample(kept, canonical.shape)
        on_canonical = canonical.with_data(back)
    else:
        on_canonical = resample_to_shape(LabelVolume(labels, affine=model_grid.affine), shape=canonical.shape,
                                         affine=canonical.affine)
    result = on_canonical if how is None else how.undo(on_canonical)
    if bbox is not None:
        result = uncrop(result, bbox, like=vol)
    return LabelVolume(result.array, affine=vol.affine, header=vol.header)


def split_slabs(depth: int) -> list[tuple[slice, slice, slice]]:
    """The official 3-way z-split: (input slice, slice of that slab's labels to keep, output slice)."""
    third = depth // 3
    m = SPLIT_MARGIN
    return [
        (slice(0, third + m), slice(0, -m), slice(0, third)),
        (slice(third + 1 - m, 2 * third + m), slice(m - 1, -m), slice(third, 2 * third)),
        (slice(2 * third + 1 - m, depth), slice(m - 1, None), slice(2 * third, depth)),
    ]


def needs_split(shape: tuple[int, ...], task: Task, force: bool) -> bool:
    """Whether the official tool would split this model-grid volume into 3 z-slabs.

    A forced split of a volume under 3 x 20 slices is skipped: its slabs would not overlap by the
    20-slice margins (the official tool fails on such volumes).
    """
    if force and shape[2] // 3 < SPLIT_MARGIN:
        warnings.warn(f"volume of {shape[2]} slices is too thin to split into 3 slabs; predicting it whole",
                      stacklevel=2)
        return False
    return force or (int(np.prod(shape)) > SPLIT_VOXELS and shape[2] > 200 and len(task.models) > 1)


def _header_zooms(grid: Volume, task: Task) -> tuple[float, ...]:
    """The voxel sizes in the header of the file nnU-Net reads: the official tool writes a fresh
    NIfTI of its canonical grid (the affine's column norms); ``--model-dir`` gives it the input."""
    return tuple(float(z) for z in header_zooms(grid.affine)) if task.canonical else grid.header_zooms_mm


def _predict_models(grid: Volume, zooms: tuple[float, ...], task, models, load, options, progress) -> np.ndarray:
    array = grid.array
    split = needs_split(array.shape, task, options.force_split)
    combined = np.zeros(array.shape, dtype=np.uint8)
    inverse = {name: gid for gid, name in task.classes.items()}
    for index, spec in enumerate(models, 1):
        model = load(spec)
        lut = _part_lut(spec, model, inverse, parts=len(task.models) > 1)
        what = task.name + ("" if task.mode == "full" else f" {task.mode}")
        what += f" part {index}/{len(models)}" if len(models) > 1 else ""
        # -sp: the official tool's last model overwrites the earlier ones' file; of a split, slab 1 is kept
        probabilities = options.probabilities if index == len(models) else None
        if split:
            part = np.zeros(array.shape, dtype=np.uint8)
            for number, (source, keep, target) in enumerate(split_slabs(array.shape[2]), 1):
                slab = _predict(model, array[:, :, source], grid.affine, zooms, task, options, progress,
                                f"{what}, slab {number}/3", probabilities if number == 1 else None)
                part[:, :, target] = slab[:, :, keep]
        else:
            part = _predict(model, array, grid.affine, zooms, task, options, progress, what, probabilities)
        mapped = lut[part]
        np.copyto(combined, mapped, where=mapped != 0)
    return combined


def _predict(model: Model, array: np.ndarray, affine: np.ndarray, zooms: tuple[float, ...], task: Task,
             options: RunOptions, progress: TileProgress | None, what: str,
             probabilities: str | os.PathLike | None = None) -> np.ndarray:
    """Labels of one model on an (X, Y, Z) array, in the same order: what nnU-Net computes for a
    NIfTI file of this array, affine and header voxel sizes (and, given ``probabilities``, its
    softmax output written there)."""
    view = reader_view(array, affine, zooms, model.config.image_reader)
    if probabilities is not None:
        labels, probs, pre = predict_image_probabilities(view.data, view.spacing, model, step=task.step_size,
                                                         precision=options.precision, progress=progress, what=what)
        props = nnunet_properties(affine, zooms, array.shape, model.config.image_reader, view.spacing, pre)
        write_probabilities(probabilities, probs, props)
        return view.labels_back(labels)
    labels = predict_image(view.data, view.spacing, model, step=task.step_size, precision=options.precision,
                           progress=progress, what=what,
                           cropped_logits=options.cropped_logits and options.probabilities is None)
    return view.labels_back(labels)


def _part_lut(spec: ModelSpec, model: Model, inverse: dict[str, int], *, parts: bool) -> np.ndarray:
    """Model output channel -> task label id.

    The channels are the model's own (its dataset.json). A part of a multi-part task maps them by
    structure name (unknown names to background); a single model writes its own ids, as the
    official tool does (ids beyond the task's map survive in a multilabel output). For an official
    model the channels must hold the official map's ids; its names come from the official map, with
    a warning where dataset.json names a channel otherwise.
    """
    names = {i: n for i, n in model.config.labels.items() if i != 0}
    if not parts:
        if spec.labels:
            _check_official_labels(spec, model, names, exact=False)
        return np.arange(max(names, default=0) + 1, dtype=np.uint8)
    if spec.labels:
        _check_official_labels(spec, model, names, exact=True)
        names = spec.labels
    lut = np.zeros(max(names, default=0) + 1, dtype=np.uint8)
    for local_id, name in names.items():
        lut[local_id] = inverse.get(name, 0)
    return lut


def _check_official_labels(spec: ModelSpec, model: Model, names: dict[int, str], *, exact: bool) -> None:
    missing = sorted(set(spec.labels) - set(names))
    if missing or (exact and sorted(names) != sorted(spec.labels)):
        raise WeightsError(
            f"{model.folder}/dataset.json has labels {_id_range(names)} where the official model {spec.model_id} "
            f"has {_id_range(spec.labels)}; this folder holds another model: re-download or re-import the weights")
    renamed = [f"{i}: {names[i]!r} (official {spec.labels[i]!r})" for i in sorted(spec.labels)
               if names[i] != spec.labels[i]]
    if renamed:
        warnings.warn(f"{model.folder}/dataset.json names {len(renamed)} labels otherwise than the official map "
                      f"({', '.join(renamed[:3])}); the official names are used", stacklevel=2)


def _id_range(labels: dict[int, str]) -> str:
    return f"{len(labels)} ids {min(labels, default=0)}..{max(labels, default=0)}"


def model_grid_steps(labels: np.ndarray, task: Task, zooms, *, small_blobs_mm3: float | None = None) -> np.ndarray:
    """The official steps on the model grid, in its order: auxiliary labels removed, the task's
    post-processing, then (``--remove_small_blobs``) every class's components of at most
    ``small_blobs_mm3`` removed (``zooms``: the grid's voxel sizes as its NIfTI header stores them)."""
    if task.aux_labels:
        labels = remove_labels(labels, task.aux_labels)
    if "body_cleanup" in task.postprocess:
        labels = _clean_body(labels, task, zooms)
    if "vertebrae_pp" in task.postprocess:
        labels = postprocess_vertebrae_pp(labels, task.classes, spacing_mm=zooms)
    if small_blobs_mm3 is not None:
        labels = remove_small_blobs_per_label(labels, list(task.classes),
                                              min_voxels=small_blobs_mm3 / voxel_volume_mm3(zooms))
    return labels


def _clean_body(labels: np.ndarray, task: Task, zooms) -> np.ndarray:
    """The official body post-processing: largest trunk blob; drop extremity blobs < 50 cm3."""
    inverse = {name: gid for gid, name in task.classes.items()}
    trunk, extremities = inverse["body_trunc"], inverse["body_extremities"]
    voxel_mm3 = np.prod(np.asarray(zooms, np.float32))  # float32, as the official tool computes it
    labels = labels.copy()
    keep = keep_largest_blob(labels == trunk)
    labels[labels == trunk] = 0
    labels[keep] = trunk
    kept = remove_small_blobs(labels == extremities, min_voxels=50000 / voxel_mm3)
    labels[labels == extremities] = 0
    labels[kept] = extremities
    return labels
