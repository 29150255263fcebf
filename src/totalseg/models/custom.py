"""Tasks for arbitrary nnU-Net v2 model folders (``--model-dir``): what ``nnUNetv2_predict`` does.

The model sees the input as stored (its plans' reader decides the orientation and voxel order),
nnU-Net resamples it to the plans spacing and the logits back, every fold present is averaged
unless folds are named, and tiles overlap by half a patch unless another step is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from totalseg.errors import InputError
from totalseg.models.plans import ModelConfig
from totalseg.models.tasks import ModelSpec, Task

NNUNET_DEFAULT_STEP = 0.5


def find_model_folder(path: Path) -> Path:
    """The folder holding plans.json: ``path`` itself or its single ``<trainer>__<plans>__<config>`` child."""
    if (path / "plans.json").is_file():
        return path
    candidates = sorted(p.parent for p in path.glob("*/plans.json")) if path.is_dir() else []
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise InputError(
            f"{path}: no nnU-Net model folder (plans.json, dataset.json, fold_0/checkpoint_final.pth) found"
        )
    names = ", ".join(c.name for c in candidates)
    raise InputError(f"{path} holds several models ({names}); pass one of them to --model-dir")


def custom_task(path: Path, *, folds: Sequence[str] | None = None, step_size: float | None = None) -> Task:
    """A one-model task for the nnU-Net model folder at ``path`` (its labels, modality).

    Args:
        path: the model folder or its parent.
        folds: the folds to average (``"0"``, ``"all"``, ...); None takes every fold present.
        step_size: tile step as a fraction of the patch, in (0, 1]; nnU-Net's 0.5 by default.
    """
    folder = find_model_folder(path)
    step = NNUNET_DEFAULT_STEP if step_size is None else float(step_size)
    if not 0 < step <= 1:
        raise InputError(f"--step_size must be in (0, 1], got {step_size}")
    config = ModelConfig.from_folder(folder)
    labels = {i: n for i, n in config.labels.items() if i != 0}
    modality = "ct" if config.normalization == "CTNormalization" else "mr"
    chosen = None if folds is None else tuple(str(f) for f in folds)
    spec = ModelSpec(0, str(folder.resolve()), folder.name.split("__")[0], "local", labels, folds=chosen)
    return Task(folder.parent.name or folder.name, "custom", (spec,), labels, None, step, modality, canonical=False)

