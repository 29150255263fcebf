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
    """Network layout of a model: patch, spacing, stages (features follow nnU-Net's rule)."""

    patch_size: tuple[int, int, int]
    spacing_mm: float
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


def legacy_plans(spec: ModelSpec, layout: Layout, *, modality: str) -> dict:
    """plans.json in nnU-Net's legacy flat format, as the official weights ship it."""
    n = layout.n_stages
    conf = {
        "data_identifier": f"{spec.plans}_{spec.configuration}",
        "preprocessor_name": "DefaultPreprocessor",
        "batch_size": 2,
        "patch_size": list(layout.patch_size),
        "median_image_size_in_voxels": [int(p * 2) for p in layout.patch_size],
        "spacing": [layout.spacing_mm] * 3,
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
        "original_median_spacing_after_transp": [layout.spacing_mm] * 3,
        "original_median_shape_after_transp": [int(p * 2) for p in layout.patch_size],
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "configurations": {spec.configuration: conf},
        "experiment_planner_used": "ExperimentPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {"0": dict(CT_INTENSITY)},
    }


def dataset_json(spec: ModelSpec, *, modality: str) -> dict:
    labels = {"background": 0, **{name: i for i, name in sorted(spec.labels.items())}}
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
    weights_dir: Path, spec: ModelSpec, *, layout: Layout | None = None, modality: str = "ct", seed: int = 0
) -> Path:
    """Write ``<weights_dir>/<folder>/<trainer>__<plans>__<config>/`` with seeded random weights.

    Returns the model folder (the one holding plans.json).

    Examples:
        >>> from totalseg.models.tasks import get_task
        >>> folder = write_random_model(tmp_path, get_task("total", "fast").models[0], layout=TINY)  # doctest: +SKIP
    """
    layout = layout or OFFICIAL_LAYOUTS[spec.model_id]
    folder = Path(weights_dir) / spec.folder / spec.model_subdir
    (folder / "fold_0").mkdir(parents=True, exist_ok=True)
    plans, dataset = legacy_plans(spec, layout, modality=modality), dataset_json(spec, modality=modality)
    (folder / "plans.json").write_text(json.dumps(plans, indent=2))
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=2))
    network = build_network(ModelConfig.from_dicts(plans, dataset))
    randomize(network, seed)
    torch.save(_checkpoint(network, spec, plans, dataset), folder / "fold_0" / "checkpoint_final.pth")
    return folder


def write_random_weights(weights_dir: Path, model_ids: list[int], *, tiny: bool = False, seed: int = 0) -> list[Path]:
    """Random-weight folders for registered models (MR ids 85x get MR plans); ``tiny`` shrinks the
    network to a few thousand parameters at the same spacing, for fast tests."""
    from totalseg.models.tasks import all_models

    specs = all_models()
    folders = []
    for offset, mid in enumerate(model_ids):
        official = OFFICIAL_LAYOUTS[mid]
        layout = replace(TINY, spacing_mm=official.spacing_mm) if tiny else official
        modality = "mr" if 850 <= mid <= 853 else "ct"
        folder = write_random_model(weights_dir, specs[mid], layout=layout, modality=modality, seed=seed + offset)
        folders.append(folder)
    return folders


def _checkpoint(network: nn.Module, spec: ModelSpec, plans: dict, dataset: dict) -> dict:
    """The keys and value types nnU-Net's trainer saves (numpy scalars and a torch.device included)."""
    return {
        "network_weights": OrderedDict(network.state_dict()),
        "optimizer_state": {"state": {}, "param_groups": [{"lr": 1e-2, "momentum": 0.99, "params": []}]},
        "grad_scaler_state": None,
        "logging": {"mean_fg_dice": [np.float64(0.5)], "ema_fg_dice": [np.float64(0.5)],
                    "train_losses": [np.float64(-0.5)], "lrs": [0.01], "epoch_start_timestamps": [0.0]},
        "_best_ema": np.float64(0.5),
        "current_epoch": 1,
        "init_args": {"plans": plans, "configuration": spec.configuration, "fold": 0, "dataset_json": dataset,
                      "device": torch.device("cpu")},
        "trainer_name": spec.trainer,
        "inference_allowed_mirroring_axes": (0, 1, 2),
    }
