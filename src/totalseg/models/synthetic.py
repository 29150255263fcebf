"""Model folders with seeded random weights in the official layout, for tests, demos and benchmarks.

The folders look exactly like the official ones (legacy plans format, dataset.json, a checkpoint
with the same keys and value types) but hold random weights: the masks are meaningless, the code
paths are the real ones. Layouts of the official models that are not published in REFERENCE.md
are assumptions, stated in :data:`OFFICIAL_LAYOUTS`.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from totalseg.models.network import build_network
from totalseg.models.plans import ModelConfig
from totalseg.models.tasks import ModelSpec

# CT foreground intensity properties of model 297 (REFERENCE.md).
CT_INTENSITY = {"mean": -50.387, "std": 503.392, "percentile_00_5": -1004.0, "percentile_99_5": 1588.0,
                "max": 3071.0, "min": -1024.0, "median": 16.0}


@dataclass(frozen=True)
class Layout:
    """Network layout of a model: patch, spacing (one value, or x, y, z), stages (features follow
    nnU-Net's rule)."""

    patch_size: tuple[int, int, int]
    spacing_mm: float | tuple[float, float, float]
    n_stages: int
    base_features: int = 32
    max_features: int = 320
    convs_per_stage: int = 2


TINY = Layout((32, 32, 32), 3.0, 3, base_features=4, max_features=16, convs_per_stage=1)
# 297 from REFERENCE.md; the others are assumed to follow nnU-Net's usual 3d_fullres plans.
OFFICIAL_LAYOUTS = {
    **{mid: Layout((128, 128, 128), 1.5, 6) for mid in (291, 292, 293, 294, 295, 299, 850, 851)},
    297: Layout((112, 112, 128), 3.0, 5),
    852: Layout((112, 112, 128), 3.0, 5),
    298: Layout((64, 64, 64), 6.0, 5),
    853: Layout((64, 64, 64), 6.0, 5),
    300: Layout((64, 64, 64), 6.0, 5),
}
# Models the official tool runs without resampling first (nnU-Net resamples to their plans): an
# assumed plans spacing, anisotropic so that nnU-Net's resampling is exercised.
NNUNET_RESAMPLES_MM = (0.9, 0.9, 2.0)


def model_facts(model_id: int) -> tuple[float | tuple[float, float, float], str, dict[int, str]]:
    """What the catalog says about a model: the spacing its task runs it at (x, y, z), its
    modality and every label it predicts (the task's map plus its auxiliary labels).

    Examples:
        >>> model_facts(117)[0]
        (0.703125, 0.703125, 1.0)
    """
    from totalseg.anatomy import class_map
    from totalseg.models.tasks import TASK_NAMES, catalog, get_task

    for name in TASK_NAMES:
        for mode in catalog()["tasks"][name]["modes"]:
            task = get_task(name, mode)
            spec = next((m for m in task.models if m.model_id == model_id), None)
            if spec is not None:
                aux = class_map(f"{name}_auxiliary") if task.aux_labels else {}
                spacing = NNUNET_RESAMPLES_MM if task.spacing_mm is None else task.spacing_mm
                return spacing, task.modality, {**spec.labels, **aux}
    raise KeyError(f"model {model_id} is in no task of the catalog")


def legacy_plans(spec: ModelSpec, layout: Layout, *, modality: str) -> dict:
    """plans.json in nnU-Net's legacy flat format, as the official weights ship it."""
    n = layout.n_stages
    conf = {
        "data_identifier": f"{spec.plans}_{spec.configuration}",
        "preprocessor_name": "DefaultPreprocessor",
        "batch_size": 2,
        "patch_size": list(layout.patch_size),
        "median_image_size_in_voxels": [int(p * 2) for p in layout.patch_size],
        "spacing": _zyx(layout.spacing_mm),
        "normalization_schemes": ["CTNormalization" if modality == "ct" else "ZScoreNormalization"],
        "use_mask_for_norm": [False],
        "UNet_class_name": "PlainConvUNet",
        "UNet_base_num_features": layout.base_features,
        "n_conv_per_stage_encoder": [layout.convs_per_stage] * n,
        "n_conv_per_stage_decoder": [layout.convs_per_stage] * (n - 1),
        "num_pool_per_axis": [n - 1] * 3,
        "pool_op_kernel_sizes": [[1, 1, 1]] + [[2, 2, 2]] * (n - 1),
        "conv_kernel_sizes": [[3, 3, 3]] * n,
        "unet_max_num_features": layout.max_features,
        "resampling_fn_data": "resample_data_or_seg_to_shape",
        "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
        "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0,
                                               "force_separate_z": None},
        "batch_dice": False,
    }
    return {
        "dataset_name": spec.folder.split("/")[-1],
        "plans_name": spec.plans,
        "original_median_spacing_after_transp": _zyx(layout.spacing_mm),
        "original_median_shape_after_transp": [int(p * 2) for p in layout.patch_size],
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "configurations": _configurations(spec.configuration, conf),
        "experiment_planner_used": "ExperimentPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {"0": dict(CT_INTENSITY)},
    }


def _configurations(name: str, conf: dict) -> dict:
    """``{name: conf}``; another name than 3d_fullres inherits from a 3d_fullres at twice the
    spacing (as nnU-Net's high-resolution configurations are written), overriding spacing and patch."""
    if name == "3d_fullres":
        return {name: conf}
    base = {**conf, "spacing": [2 * s for s in conf["spacing"]], "data_identifier": "nnUNetPlans_3d_fullres"}
    keep = ("data_identifier", "spacing", "patch_size", "median_image_size_in_voxels")
    return {"3d_fullres": base, name: {"inherits_from": "3d_fullres", **{k: conf[k] for k in keep}}}


def _zyx(spacing_mm: float | tuple[float, float, float]) -> list[float]:
    """The plans spacing of a SimpleITKIO model (z, y, x) for a spacing given as x, y, z."""
    return [float(spacing_mm)] * 3 if np.isscalar(spacing_mm) else [float(v) for v in reversed(spacing_mm)]


def dataset_json(spec: ModelSpec, *, modality: str, labels: dict[int, str] | None = None) -> dict:
    labels = {"background": 0, **{name: i for i, name in sorted((labels or spec.labels).items())}}
    return {"channel_names": {"0": "CT" if modality == "ct" else "MRI"}, "labels": labels,
            "numTraining": 1, "file_ending": ".nii.gz"}


def randomize(network: nn.Module, seed: int) -> None:
    """Seeded He-normal convs and random norm/bias parameters, so outputs vary across classes."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, (nn.Conv3d, nn.ConvTranspose3d, nn.Conv2d)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * np.sqrt(2.0 / fan_in))
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
            elif isinstance(module, (nn.InstanceNorm3d, nn.InstanceNorm2d)) and module.affine:
                module.weight.copy_(1 + 0.1 * torch.randn(module.weight.shape, generator=gen))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=gen))


def write_random_model(
    weights_dir: Path, spec: ModelSpec, *, layout: Layout | None = None, modality: str = "ct", seed: int = 0,
    labels: dict[int, str] | None = None, folds: int = 1,
) -> Path:
    """Write ``<weights_dir>/<folder>/<trainer>__<plans>__<config>/`` with seeded random weights.

    ``labels`` (default ``spec.labels``) are the model's output channels; ``folds`` folds are
    written, each with its own seed. Returns the model folder (the one holding plans.json).

    Examples:
        >>> from totalseg.models.tasks import get_task
        >>> folder = write_random_model(tmp_path, get_task("total", "fast").models[0], layout=TINY)  # doctest: +SKIP
    """
    layout = layout or OFFICIAL_LAYOUTS[spec.model_id]
    folder = Path(weights_dir) / spec.folder / spec.model_subdir
    plans = legacy_plans(spec, layout, modality=modality)
    dataset = dataset_json(spec, modality=modality, labels=labels)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plans.json").write_text(json.dumps(plans, indent=2))
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=2))
    for fold in range(folds):
        network = build_network(ModelConfig.from_dicts(plans, dataset, configuration=spec.configuration))
        randomize(network, seed + 1000 * fold)
        (folder / f"fold_{fold}").mkdir(exist_ok=True)
        torch.save(_checkpoint(network, spec, plans, dataset, fold), folder / f"fold_{fold}" / "checkpoint_final.pth")
    return folder


def write_random_weights(weights_dir: Path, model_ids: list[int], *, tiny: bool = False, seed: int = 0) -> list[Path]:
    """Random-weight folders for catalog models, at the spacing and with the labels (auxiliary ones
    included) and folds their task runs; ``tiny`` shrinks the network to a few thousand parameters,
    for fast tests. Models with an unpublished layout get a small 4-stage one."""
    from totalseg.models.tasks import all_models

    specs = all_models()
    folders = []
    for offset, mid in enumerate(model_ids):
        spacing, modality, labels = model_facts(mid)
        official = OFFICIAL_LAYOUTS.get(mid, Layout((64, 64, 64), spacing, 4, max_features=64))
        layout = replace(TINY, spacing_mm=official.spacing_mm) if tiny else official
        spec = specs[mid]
        folds = 1 if spec.folds is None or spec.folds == ("0",) else len(spec.folds)
        folds = 2 if spec.folds is None else folds  # nnUNetv2_predict takes every fold found: give it two
        folders.append(write_random_model(weights_dir, spec, layout=layout, modality=modality, seed=seed + offset,
                                          labels=labels, folds=folds))
    return folders


def _checkpoint(network: nn.Module, spec: ModelSpec, plans: dict, dataset: dict, fold: int = 0) -> dict:
    """The keys and value types nnU-Net's trainer saves (numpy scalars and a torch.device included)."""
    return {
        "network_weights": OrderedDict(network.state_dict()),
        "optimizer_state": {"state": {}, "param_groups": [{"lr": 1e-2, "momentum": 0.99, "params": []}]},
        "grad_scaler_state": None,
        "logging": {"mean_fg_dice": [np.float64(0.5)], "ema_fg_dice": [np.float64(0.5)],
                    "train_losses": [np.float64(-0.5)], "lrs": [0.01], "epoch_start_timestamps": [0.0]},
        "_best_ema": np.float64(0.5),
        "current_epoch": 1,
        "init_args": {"plans": plans, "configuration": spec.configuration, "fold": fold, "dataset_json": dataset,
                      "device": torch.device("cpu")},
        "trainer_name": spec.trainer,
        "inference_allowed_mirroring_axes": (0, 1, 2),
    }
