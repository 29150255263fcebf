"""One segmentation request on one volume: the optional ROI or body crop step, then the task."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from totalseg.engine.pipeline import ModelGridCallback, ModelLoader, RunOptions, TileProgress, run_task
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.models.tasks import Task, get_task

ROI_MARGIN_MM = (20.0, 20.0, 20.0)
BODY_MARGIN_MM = (3.0, 3.0, 3.0)


@dataclass(frozen=True)
class SegmentRequest:
    """A validated request: the task in its mode, the ROI classes, the crop and run options."""

    task: Task
    roi_subset: tuple[str, ...] | None = None
    body_seg: bool = False
    options: RunOptions = RunOptions()

    @property
    def output_classes(self) -> dict[int, str]:
        """Label id -> name of what the output holds (only the ROI classes with a subset)."""
        if self.roi_subset is None:
            return dict(self.task.classes)
        return {i: n for i, n in self.task.classes.items() if n in self.roi_subset}


def crop_task_for(task: Task) -> Task:
    """The rough model the official tool crops with: 6 mm CT, or 3 mm for MR (6 mm is too coarse)."""
    return get_task("total_mr", "fast") if task.modality == "mr" else get_task("total", "fastest")


def segment_volume(
    vol: Volume, request: SegmentRequest, load: ModelLoader, *, progress: TileProgress | None = None,
    on_model_grid: ModelGridCallback | None = None,
) -> LabelVolume:
    """Labels of ``request.task`` on the grid of ``vol`` (uint8), restricted to the ROI if any.

    ``on_model_grid`` is called by the main task's run (not the crop run), see ``run_task``.
    """
    task, opts = request.task, request.options
    crop_mask, margin, only = None, BODY_MARGIN_MM, None
    if request.roi_subset is not None:
        rough_task = crop_task_for(task)
        rough = run_task(vol, rough_task, load, options=opts, progress=progress)
        wanted = [i for i, n in rough_task.classes.items() if n in request.roi_subset]
        crop_mask, margin = np.isin(rough.array, wanted), ROI_MARGIN_MM
        only = models_for_roi(task, request.roi_subset)
    elif request.body_seg and task.modality == "ct":
        body = run_task(vol, get_task("body", "fast"), load, options=opts, progress=progress)
        crop_mask = body.array > 0
    labels = run_task(
        vol, task, load, options=opts, crop_mask=crop_mask, crop_margin_mm=margin, only_models=only,
        progress=progress, on_model_grid=on_model_grid,
    )
    if request.roi_subset is not None:
        keep = np.isin(labels.array, list(request.output_classes))
        labels = labels.with_data(np.where(keep, labels.array, 0).astype(np.uint8))
    return labels


def models_for_roi(task: Task, roi_subset: Sequence[str]) -> list[int]:
    """Ids of the task's models that predict at least one ROI class (all parts for 1-model tasks)."""
    wanted = set(roi_subset)
    return [m.model_id for m in task.models if wanted & set(m.labels.values())]
