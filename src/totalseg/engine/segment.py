"""One segmentation request on one volume: the crop the task asks for, the task, its steps at the
input resolution.

The official order: a rough run for the crop (the union of the task's crop classes or of the ROI,
its bounding box plus a margin) or the body crop; an extra run for tasks refined by another
(``vertebrae_pp_refined``); the task on the cropped image (``run_task``); then, at the input
resolution, the refinement, the ROI restriction and the removal of labels outside the structures
of the rough run (``remove_outside``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from totalseg.engine.pipeline import ModelGridCallback, ModelLoader, RunOptions, TileProgress, run_task
from totalseg.engine.postprocess import outside_dilation_voxels, remove_outside_of_mask
from totalseg.engine.vertebrae import refine_vertebrae_pp
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.models.tasks import CropRule, ModelSpec, Task, get_task

ROI_MARGIN_MM = 20.0
BODY_MARGIN_MM = (3.0, 3.0, 3.0)


@dataclass(frozen=True)
class SegmentRequest:
    """A validated request: the task in its mode, the ROI classes, the crop and run options.

    ``robust_crop`` crops with the 3 mm total model instead of the 6 mm one (``--robust_crop``,
    ``--roi_subset_robust``); tasks that always do are marked in their crop rule.
    ``remove_small_blobs_mm3`` (``--remove_small_blobs``) cleans the task's labels, not the crop runs'.
    ``save_lowres`` keeps the labels on the model grid (``--save_lowres``; no crop, ROI or body crop).
    ``legacy_label_resampling`` brings the task's labels back one at a time, linearly
    (``--higher_order_resampling_LEGACY``), only the ROI's when there is one.
    """

    task: Task
    roi_subset: tuple[str, ...] | None = None
    body_seg: bool = False
    options: RunOptions = RunOptions()
    robust_crop: bool = False
    remove_small_blobs_mm3: float | None = None
    save_lowres: bool = False
    legacy_label_resampling: bool = False

    @property
    def output_classes(self) -> dict[int, str]:
        """Label id -> name of what the output holds (only the ROI classes with a subset)."""
        if self.roi_subset is None:
            return dict(self.task.classes)
        return {i: n for i, n in self.task.classes.items() if n in self.roi_subset}

    @property
    def crop(self) -> CropRule | None:
        """The crop before the task runs: around the ROI, or the task's own rule."""
        if self.roi_subset is not None:
            return CropRule(self.roi_subset, "total", ROI_MARGIN_MM, robust=self.robust_crop)
        rule = self.task.crop
        if rule is not None and self.robust_crop and not rule.robust:
            return CropRule(rule.classes, rule.source, rule.margin_mm, robust=True)
        return rule


def rough_request(rule: CropRule, task: Task, options: RunOptions) -> SegmentRequest:
    """The run a crop rule takes its mask from: the 6 mm total model (3 mm when robust), total_mr
    at 3 mm for MR tasks, the 6 mm body model, or a whole other task.

    Examples:
        >>> rough_request(get_task("lung_vessels").crop, get_task("lung_vessels"), RunOptions()).task.mode
        'fast'
    """
    if rule.source == "body":
        rough = get_task("body", "fast")
    elif rule.source != "total":
        rough = get_task(rule.source)
    elif task.modality == "mr":
        rough = get_task("total_mr", "fast")
    else:
        rough = get_task("total", "fast" if rule.robust else "fastest")
    return SegmentRequest(rough, options=options.without_probabilities())


def segment_volume(
    vol: Volume, request: SegmentRequest, load: ModelLoader, *, progress: TileProgress | None = None,
    on_model_grid: ModelGridCallback | None = None,
) -> LabelVolume:
    """Labels of ``request.task`` on the grid of ``vol`` (uint8), restricted to the ROI if any.

    ``on_model_grid`` is called by the main task's run (not the crop run), see ``run_task``.
    """
    task, opts, rule = request.task, request.options, request.crop
    crop_mask, margin, only, rough = None, BODY_MARGIN_MM, None, None
    if rule is not None:
        rough_req = rough_request(rule, task, opts)
        rough = segment_volume(vol, rough_req, load, progress=progress)
        crop_mask, margin = _mask_of(rough, rough_req.task, rule.classes), (rule.margin_mm,) * 3
        only = models_for_roi(task, request.roi_subset) if request.roi_subset is not None else None
    elif request.body_seg and task.modality == "ct":
        body = run_task(vol, get_task("body", "fast"), load, options=opts.without_probabilities(), progress=progress)
        crop_mask = body.array > 0
    refine_with = None
    if task.refine_task is not None:
        refine_with = segment_volume(vol, SegmentRequest(get_task(task.refine_task),
                                                         options=opts.without_probabilities()), load,
                                     progress=progress)
    labels = run_task(
        vol, task, load, options=opts, crop_mask=crop_mask, crop_margin_mm=margin, only_models=only,
        progress=progress, on_model_grid=on_model_grid, small_blobs_mm3=request.remove_small_blobs_mm3,
        lowres=request.save_lowres,
        legacy_keep=(list(request.output_classes) if request.roi_subset else []) if request.legacy_label_resampling
        else None,
    )
    array = labels.array
    if refine_with is not None:
        array = refine_vertebrae_pp(array, refine_with.array, task.classes, spacing_mm=vol.header_zooms_mm)
    if request.roi_subset is not None:
        array = np.where(np.isin(array, list(request.output_classes)), array, 0).astype(np.uint8)
    if task.remove_outside is not None and rough is not None:
        names, dilation_mm = task.remove_outside
        array = remove_outside_of_mask(array, _mask_of(rough, rough_req.task, names),
                                       dilation_voxels=outside_dilation_voxels(dilation_mm, vol.header_zooms_mm))
    return labels if array is labels.array else labels.with_data(array)


def _mask_of(labels: LabelVolume, task: Task, names: Sequence[str]) -> np.ndarray:
    """Where ``labels`` (of ``task``) hold any of the structures ``names``."""
    wanted = [i for i, n in task.classes.items() if n in names]
    return np.isin(labels.array, wanted)


def models_for_roi(task: Task, roi_subset: Sequence[str]) -> list[int]:
    """Ids of the task's models that predict at least one ROI class (all parts for 1-model tasks)."""
    wanted = set(roi_subset)
    return [m.model_id for m in task.models if wanted & set(m.labels.values())]


def needed_models(request: SegmentRequest) -> list[ModelSpec]:
    """Every model ``segment_volume`` runs for ``request``, in the order it runs them (no repeats)."""
    specs: list[ModelSpec] = []
    rule = request.crop
    if rule is not None:
        specs += needed_models(rough_request(rule, request.task, request.options))
    elif request.body_seg and request.task.modality == "ct":
        specs += list(get_task("body", "fast").models)
    if request.task.refine_task is not None:
        specs += list(get_task(request.task.refine_task).models)
    only = models_for_roi(request.task, request.roi_subset) if request.roi_subset is not None else None
    specs += [m for m in request.task.models if only is None or m.model_id in only]
    return list(dict.fromkeys(specs))
