"""The experiment planner: target spacing, patch size, network topology and batch size from the
dataset fingerprint and a memory budget, written as nnU-Net v2 plans (``architecture`` format).

It follows nnU-Net's ExperimentPlanner: start from a patch of 256^3 voxels shaped by the spacing and
clipped to the median image; pool each axis while its feature map stays >= 8 voxels and its spacing
is within 2x of the finest (anisotropic axes get 1-wide kernels until then); shrink the patch along
the axis that exceeds the median image the most until the estimated training memory fits the budget;
then fill the budget with a larger batch, never covering more than 5 % of the dataset's voxels. The
Dice of the loss is taken over the whole batch when the patch covers under a quarter of the median
image (nnU-Net's rule, tied to its 3d_lowres stage).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from totalseg.errors import InputError
from totalseg.models.readers import reorienting_reader
from totalseg.training.fingerprint import Fingerprint

CONFIGURATION = "3d_fullres"
PLANS_NAME = "nnUNetPlans"
CONFIG_SPACINGS = {"3mm": 3.0, "1.5mm": 1.5, "6mm": 6.0}
MIN_FEATURE_MAP = 4
MAX_POOLS = 5
# Bytes per stored activation value in training (fp16 under AMP); values kept per conv for the
# backward pass (conv, norm and nonlinearity outputs, plus workspace), and per decoder stage for the
# transposed conv, the skip concatenation and the segmentation head. Calibrated so an 8 GB budget
# gives nnU-Net's usual ~128^3 patch at batch size 2 with 32..320 features.
_BYTES_PER_VALUE = 2
_VALUES_PER_CONV = 4
_VALUES_PER_DECODER_STAGE = 3
_NETWORK_CLASS = "dynamic_network_architectures.architectures.unet.PlainConvUNet"


@dataclass(frozen=True)
class PlannerOptions:
    """Knobs of the planner (nnU-Net's defaults).

    ``config`` is ``3mm``, ``1.5mm``, ``6mm`` (isotropic spacing) or ``auto`` (the median spacing).
    ``patch_size`` and ``batch_size`` override the planned ones (canonical X, Y, Z order).
    """

    config: str = "auto"
    memory_gb: float = 8.0
    base_features: int = 32
    max_features: int = 320
    convs_per_stage: int = 2
    patch_size: tuple[int, int, int] | None = None
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if self.config != "auto" and self.config not in CONFIG_SPACINGS:
            raise InputError(f"--config must be auto or one of {', '.join(CONFIG_SPACINGS)}, got {self.config!r}")
        if self.memory_gb <= 0 or self.base_features < 1 or self.max_features < self.base_features:
            raise InputError("the memory budget and feature counts must be positive (max >= base features)")


@dataclass(frozen=True)
class Topology:
    """Per-stage kernel sizes and strides (array order) and the divisor the patch must respect."""

    kernel_sizes: list[list[int]]
    strides: list[list[int]]

    @property
    def divisor(self) -> np.ndarray:
        return np.prod(np.array(self.strides), axis=0)


def target_spacing(fingerprint: Fingerprint, config: str) -> np.ndarray:
    """Target spacing in canonical (X, Y, Z) order."""
    if config in CONFIG_SPACINGS:
        return np.full(3, CONFIG_SPACINGS[config])
    spacings = np.array(fingerprint.spacings_mm)
    target = np.median(spacings, axis=0)
    worst = int(np.argmax(target))
    others = [i for i in range(3) if i != worst]
    if target[worst] > 3 * target[others].max():  # strongly anisotropic: nnU-Net's 10th percentile rule
        target[worst] = max(np.percentile(spacings[:, worst], 10), target[others].max() * 3)
    return target


def topology(spacing: np.ndarray, patch: np.ndarray) -> Topology:
    """Kernels and strides for a patch at a spacing (nnU-Net's get_pool_and_conv_props rule)."""
    spacing, size = spacing.astype(float).copy(), patch.astype(int).copy()
    kernels, strides = [], [[1, 1, 1]]
    while True:
        finest = spacing.min()
        kernels.append([3 if s / finest < 2 else 1 for s in spacing])
        pool = [2 if (n >= 2 * MIN_FEATURE_MAP and s / finest < 2) else 1 for n, s in zip(size, spacing)]
        if len(strides) > MAX_POOLS or not any(p == 2 for p in pool):
            return Topology(kernels, strides)
        strides.append(pool)
        spacing, size = spacing * pool, size // pool


def estimate_memory_gb(patch, topo: Topology, features: list[int], batch_size: int, convs: int) -> float:
    """Rough training memory: activations kept for the backward pass plus weights, grads, momentum."""
    voxels = float(np.prod(patch))
    activations = 0.0
    for stage, stride in enumerate(topo.strides):
        voxels /= float(np.prod(stride))
        decoder = stage < len(topo.strides) - 1
        per_voxel = convs * _VALUES_PER_CONV * (2 if decoder else 1) + (_VALUES_PER_DECODER_STAGE if decoder else 0)
        activations += voxels * features[stage] * per_voxel
    params = sum(27 * f * f * 2 * convs for f in features)
    return (activations * _BYTES_PER_VALUE * batch_size + params * 4 * 3) / 1024**3


def plan_experiment(fingerprint: Fingerprint, dataset_json: dict, *, options: PlannerOptions, name: str) -> dict:
    """nnU-Net v2 plans (one ``3d_fullres`` configuration) for a dataset.

    Axis-ordered values in the plans are in nnU-Net's array order (Z, Y, X): the images are read
    with SimpleITK's axis convention, as nnU-Net does.

    Examples:
        >>> plans = plan_experiment(fp, dataset_json, options=PlannerOptions(config="3mm"), name="D")  # doctest: +SKIP
        >>> plans["configurations"]["3d_fullres"]["spacing"]  # doctest: +SKIP
        [3.0, 3.0, 3.0]
    """
    spacing_xyz = target_spacing(fingerprint, options.config)
    shapes = np.array(fingerprint.shapes) * np.array(fingerprint.spacings_mm) / spacing_xyz
    median_xyz = np.maximum(np.round(np.median(shapes, axis=0)).astype(int), 1)
    spacing, median = spacing_xyz[::-1], median_xyz[::-1]  # array order (Z, Y, X)
    features_for = lambda n: [min(options.base_features * 2**i, options.max_features) for i in range(n)]  # noqa: E731
    if options.patch_size is not None:
        patch = np.array(options.patch_size[::-1])
        topo = topology(spacing, patch)
        patch = _round_up(patch, topo.divisor)
    else:
        patch, topo = _fit_patch(spacing, median, options, features_for)
    features = features_for(len(topo.strides))
    batch = options.batch_size or _batch_size(patch, topo, features, options, fingerprint, shapes)
    conf = _configuration(spacing, patch, median, topo, features, batch, options, dataset_json)
    return {
        "dataset_name": name,
        "plans_name": PLANS_NAME,
        "original_median_spacing_after_transp": [float(s) for s in fingerprint.median_spacing_mm[::-1]],
        "original_median_shape_after_transp": [int(s) for s in np.median(np.array(fingerprint.shapes), 0)[::-1]],
        # training reads every case in its closest canonical orientation: so do these readers
        "image_reader_writer": reorienting_reader(dataset_json.get("file_ending", ".nii.gz")),
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "configurations": {CONFIGURATION: conf},
        "experiment_planner_used": "totalseg.training.planner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {"0": dict(fingerprint.intensity)},
    }


def _fit_patch(spacing, median, options: PlannerOptions, features_for) -> tuple[np.ndarray, Topology]:
    inverse = 1 / spacing
    patch = np.round(inverse * (256**3 / np.prod(inverse)) ** (1 / 3)).astype(int)
    patch = np.minimum(patch, median)
    while True:
        topo = topology(spacing, patch)
        patch = _round_up(patch, topo.divisor)
        memory = estimate_memory_gb(patch, topo, features_for(len(topo.strides)), 2, options.convs_per_stage)
        if memory <= options.memory_gb or np.all(patch <= topo.divisor):
            return patch, topo
        axis = int(np.argmax(patch / median))
        patch[axis] = max(int(patch[axis] - topo.divisor[axis]), int(topo.divisor[axis]))


def _batch_size(patch, topo, features, options, fingerprint, shapes) -> int:
    per_sample = estimate_memory_gb(patch, topo, features, 1, options.convs_per_stage)
    fits = int(options.memory_gb // max(per_sample, 1e-9))
    dataset_voxels = float(np.prod(shapes, axis=1).sum())
    cap = int(0.05 * dataset_voxels // float(np.prod(patch)))
    return int(max(2, min(fits, cap)))


def _round_up(patch: np.ndarray, divisor: np.ndarray) -> np.ndarray:
    return (np.ceil(np.maximum(patch, 1) / divisor) * divisor).astype(int)


def _configuration(spacing, patch, median, topo, features, batch, options, dataset_json) -> dict:
    channels = dataset_json.get("channel_names", dataset_json.get("modality", {}))
    scheme = "CTNormalization" if str(next(iter(channels.values()))).upper() == "CT" else "ZScoreNormalization"
    n = len(topo.strides)
    return {
        "data_identifier": f"{PLANS_NAME}_{CONFIGURATION}",
        "preprocessor_name": "DefaultPreprocessor",
        "batch_size": int(batch),
        "patch_size": [int(p) for p in patch],
        "median_image_size_in_voxels": [int(m) for m in median],
        "spacing": [float(s) for s in spacing],
        "normalization_schemes": [scheme],
        "use_mask_for_norm": [False],
        "resampling_fn_data": "resample_data_or_seg_to_shape",
        "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
        "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0, "force_separate_z": None},
        "architecture": {
            "network_class_name": _NETWORK_CLASS,
            "arch_kwargs": {
                "n_stages": n,
                "features_per_stage": features,
                "conv_op": "torch.nn.modules.conv.Conv3d",
                "kernel_sizes": topo.kernel_sizes,
                "strides": topo.strides,
                "n_conv_per_stage": [options.convs_per_stage] * n,
                "n_conv_per_stage_decoder": [options.convs_per_stage] * (n - 1),
                "conv_bias": True,
                "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
                "norm_op_kwargs": {"eps": 1e-05, "affine": True},
                "dropout_op": None,
                "dropout_op_kwargs": None,
                "nonlin": "torch.nn.LeakyReLU",
                "nonlin_kwargs": {"inplace": True},
            },
            "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
        },
        # nnU-Net plans a 3d_lowres stage when the patch covers under a quarter of the median image, and
        # then trains 3d_fullres with the Dice over the whole batch.
        "batch_dice": bool(np.prod(patch.astype(float)) < 0.25 * np.prod(median.astype(float))),
    }
