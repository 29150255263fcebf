"""Tasks for arbitrary nnU-Net v2 model folders (``--model-dir``)."""

from __future__ import annotations

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


def custom_task(path: Path) -> Task:
    """A one-model task for the nnU-Net model folder at ``path`` (its labels, spacing, modality)."""
    folder = find_model_folder(path)
    config = ModelConfig.from_folder(folder)
    labels = {i: n for i, n in config.labels.items() if i != 0}
    spacing = canonical_spacing(config)
    modality = "ct" if config.normalization == "CTNormalization" else "mr"
    spec = ModelSpec(0, str(folder.resolve()), folder.name.split("__")[0], "local", labels)
    return Task(folder.parent.name or folder.name, "custom", (spec,), labels, spacing, NNUNET_DEFAULT_STEP, modality)


def canonical_spacing(config: ModelConfig) -> tuple[float, float, float]:
    """The plans' spacing in canonical (X, Y, Z) order."""
    spacing = [config.spacing[i] for i in config.transpose_backward]
    if config.image_reader.startswith("SimpleITKIO"):
        spacing = spacing[::-1]
    return tuple(float(s) for s in spacing)  # type: ignore[return-value]
