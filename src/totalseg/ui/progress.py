"""How many sliding-window tiles a run will take: the denominator of the app's progress bar.

The count is an upper bound: it assumes each model sees the whole image on its grid, while the
engine first crops to the non-zero region (and, for a region subset, to the region).
"""

from __future__ import annotations

from collections.abc import Sequence

from totalseg.engine.grid import tile_count
from totalseg.engine.segment import SegmentRequest, models_for_roi, rough_request
from totalseg.errors import TotalsegError
from totalseg.imaging.orientation import to_canonical
from totalseg.imaging.resample import header_zooms
from totalseg.imaging.volume import Volume
from totalseg.models.plans import ModelConfig
from totalseg.models.readers import get_reader
from totalseg.models.store import WeightsStore
from totalseg.models.tasks import ModelSpec, Task, get_task


def estimate_tiles(image: Volume, task: Task, store: WeightsStore, roi_subset: Sequence[str] | None = None) -> int:
    """Upper bound of the tiles a run predicts; 0 when a model's weights are not there yet."""
    canonical, _ = to_canonical(image)
    zooms = header_zooms(canonical.affine)
    runs = model_runs(SegmentRequest(task, roi_subset=tuple(roi_subset) if roi_subset else None))
    total = 0
    for run_task, spec in runs:
        if not store.has(spec):
            return 0
        try:
            config = ModelConfig.from_folder(store.require(spec))
        except TotalsegError:
            return 0
        total += tiles_for(canonical.shape, zooms, run_task, config)
    return total


def model_runs(request: SegmentRequest) -> list[tuple[Task, ModelSpec]]:
    """Each model a request runs with the task it runs for: crop runs, refining run, the task."""
    runs: list[tuple[Task, ModelSpec]] = []
    if request.crop is not None:
        runs += model_runs(rough_request(request.crop, request.task, request.options))
    if request.task.refine_task is not None:
        refine = get_task(request.task.refine_task)
        runs += [(refine, m) for m in refine.models]
    wanted = models_for_roi(request.task, request.roi_subset) if request.roi_subset else None
    return runs + [(request.task, m) for m in request.task.models if wanted is None or m.model_id in wanted]


def tiles_for(shape_xyz: Sequence[int], zooms_mm: Sequence[float], task: Task, config: ModelConfig) -> int:
    """Tiles of one model on a canonical image of ``shape_xyz`` voxels of ``zooms_mm``.

    Examples:
        >>> from types import SimpleNamespace
        >>> task = SimpleNamespace(spacing_mm=3.0, step_size=0.8)
        >>> config = SimpleNamespace(image_reader="NibabelIO", transpose_forward=(0, 1, 2), patch_size=(64, 64, 64))
        >>> tiles_for((100, 100, 30), (3.0, 3.0, 3.0), task, config)  # 2 x 2 x 1 tiles
        4
    """
    if task.spacing_mm is None:  # nnU-Net resamples to the plans: its spacing, back in x, y, z
        spacing = tuple(config.spacing[config.transpose_backward[i]] for i in range(3))
        spacing = tuple(spacing[axis] for axis in get_reader(config.image_reader).axes)
    else:
        spacing = task.spacing_mm if isinstance(task.spacing_mm, Sequence) else (task.spacing_mm,) * 3
    grid = [max(1, round(n * z / s)) for n, z, s in zip(shape_xyz, zooms_mm, spacing)]
    grid = [grid[axis] for axis in get_reader(config.image_reader).axes]
    grid = [grid[i] for i in config.transpose_forward]
    return tile_count(tuple(grid), config.patch_size, task.step_size)
