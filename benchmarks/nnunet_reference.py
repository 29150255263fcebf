"""nnU-Net's side of the parity matrix: model folders, phantom inputs and nnUNetv2_predict's outputs.

Run with the reference venv's python (nnunetv2 2.8.1); it never imports totalseg::

    .bench/official-venv/bin/python benchmarks/nnunet_reference.py --out DIR [--rows NAME ...] [--golden]

Each row is :data:`BASE` with one or two things changed. Everything of a row is made the way
nnU-Net makes it: plans.json and dataset.json as the planner writes them (legacy flat or
``architecture`` format), the network built by the trainer's ``build_network_architecture`` from
those plans, seeded weights saved in a checkpoint with the keys nnU-Net's trainer writes, a NIfTI
phantom written with nibabel, and the prediction of ``nnUNetPredictor`` (Gaussian weighting, no
mirroring, CPU) written by the plans' reader/writer, as ``nnUNetv2_predict`` does. A row nnU-Net
cannot run records the first line of its error instead.

Layout under DIR::

    <row>/input/case_0000.nii.gz
    <row>/results/Dataset9NN_<Row>/<trainer>__<plans>__<configuration>/{plans.json, dataset.json, fold_N/}
    <row>/nnunet/case.nii.gz          nnU-Net's output
    <row>/nnunet.log                  what nnU-Net printed
    manifest.json                     package versions and one entry per row (paths relative to DIR)

Run it with ``OMP_NUM_THREADS=1`` on a small machine: nnU-Net sets 8 torch threads, which on 2
cores makes a 0.1 s row take 3-13 s (the outputs are the same).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import shutil
import sys
import time
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
from nnunetv2.inference.sliding_window_prediction import compute_steps_for_sliding_window
from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

FOUR_STAGES = ((1, 1, 1), (2, 2, 2), (2, 2, 2), (2, 2, 2))
CONV_3 = ((3, 3, 3),) * 4
CT_PROPERTIES = {"mean": 60.0, "std": 250.0, "percentile_00_5": -950.0, "percentile_99_5": 950.0,
                 "max": 1500.0, "min": -1024.0, "median": 40.0}
MR_PROPERTIES = {"mean": 140.0, "std": 70.0, "percentile_00_5": 10.0, "percentile_99_5": 330.0,
                 "max": 400.0, "min": 0.0, "median": 110.0}
CHANNEL_NAMES = {"CTNormalization": "CT", "ZScoreNormalization": "MRI", "NoNormalization": "noNorm",
                 "RescaleTo01Normalization": "rescale_to_0_1"}


@dataclass(frozen=True)
class Row:
    """One model folder and one input. Spacing, patch, strides and kernels are in the plans' (transposed) order."""

    name: str
    what: str
    reader: str = "SimpleITKIO"
    orientation: str = "RAS"  # RAS, LPS or oblique (rotated 12 degrees, axes permuted)
    modality: str = "ct"  # ct: int16 HU phantom; mr: float32 phantom with an exact-zero background
    shape: tuple[int, int, int] = (40, 36, 32)  # stored array shape
    zooms_mm: tuple[float, float, float] = (1.3, 1.3, 1.6)  # stored voxel sizes
    spacing: tuple[float, float, float] = (1.5, 1.5, 1.5)
    transpose: tuple[int, int, int] = (0, 1, 2)
    patch: tuple[int, int, int] = (24, 24, 24)
    strides: tuple[tuple[int, int, int], ...] = FOUR_STAGES
    kernels: tuple[tuple[int, int, int], ...] = CONV_3
    features: tuple[int, ...] = (4, 8, 12, 12)
    arch: str = "plain"  # plain, plain-legacy, resenc, resenc-legacy
    configuration: str = "3d_fullres"
    parent: str | None = None  # inherits_from
    folds: tuple[int, ...] = (0,)
    use_folds: tuple[int, ...] | None = None  # None: every fold present
    norm: str = "CTNormalization"
    mask_norm: bool = False
    labels: tuple[str, ...] = ("liver", "spleen", "kidney_left", "aorta")
    step: float = 0.5
    trainer: str = "nnUNetTrainer"
    golden: bool = False

    @property
    def seed(self) -> int:
        return zlib.crc32(self.name.encode())


BASE = Row("base", "SimpleITKIO, RAS, CT, 1.3x1.3x1.6 mm to 1.5 mm, PlainConvUNet, fold 0")
ANISO_STRIDES = ((1, 1, 1), (1, 2, 2), (2, 2, 2), (2, 2, 2))
ANISO_KERNELS = ((1, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3))
STEP_GEOMETRY = {"shape": (48, 44, 40), "zooms_mm": (1.0, 1.0, 1.0), "spacing": (1.0, 1.0, 1.0), "patch": (16, 16, 16)}
TWELVE = ("tumor", "cyst_left", "cyst_right", "necrosis", "edema", "vessel_a", "vessel_b", "nodule",
          "calcification", "fat_pad", "muscle_x", "bone_y")


def _row(name: str, what: str, **changes) -> Row:
    return replace(BASE, name=name, what=what, **changes)


ROWS = [
    _row("reader-sitk", "SimpleITKIO, RAS (the base row)"),
    _row("reader-sitk-lps", "SimpleITKIO, LPS", orientation="LPS"),
    _row("reader-sitk-oblique", "SimpleITKIO, oblique", orientation="oblique", golden=True),
    _row("reader-sitk-reorient", "SimpleITKIOWithReorient, RAS", reader="SimpleITKIOWithReorient"),
    _row("reader-sitk-reorient-lps", "SimpleITKIOWithReorient, LPS", reader="SimpleITKIOWithReorient",
         orientation="LPS"),
    _row("reader-sitk-reorient-oblique", "SimpleITKIOWithReorient, oblique", reader="SimpleITKIOWithReorient",
         orientation="oblique"),
    _row("reader-nibabel", "NibabelIO, RAS", reader="NibabelIO"),
    _row("reader-nibabel-lps", "NibabelIO, LPS", reader="NibabelIO", orientation="LPS", golden=True),
    _row("reader-nibabel-oblique", "NibabelIO, oblique", reader="NibabelIO", orientation="oblique"),
    _row("reader-nibabel-reorient", "NibabelIOWithReorient, RAS", reader="NibabelIOWithReorient"),
    _row("reader-nibabel-reorient-lps", "NibabelIOWithReorient, LPS", reader="NibabelIOWithReorient",
         orientation="LPS"),
    _row("reader-nibabel-reorient-oblique", "NibabelIOWithReorient, oblique", reader="NibabelIOWithReorient",
         orientation="oblique", golden=True),
    _row("reader-tiff3d", "Tiff3DIO on a NIfTI input (nnU-Net cannot read it)", reader="Tiff3DIO", golden=True),
    _row("transpose-201", "transpose_forward [2,0,1], legacy plans format", transpose=(2, 0, 1),
         spacing=(1.4, 1.6, 1.5), patch=(24, 32, 24), arch="plain-legacy", golden=True),
    _row("transpose-102", "transpose_forward [1,0,2]", transpose=(1, 0, 2), spacing=(1.4, 1.6, 1.5),
         patch=(24, 32, 24)),
    _row("transpose-210", "transpose_forward [2,1,0]", transpose=(2, 1, 0), spacing=(1.4, 1.6, 1.5),
         patch=(24, 32, 24)),
    _row("transpose-201-nibabel-lps", "transpose_forward [2,0,1], NibabelIOWithReorient, LPS",
         transpose=(2, 0, 1), spacing=(1.4, 1.6, 1.5), patch=(24, 32, 24), reader="NibabelIOWithReorient",
         orientation="LPS"),
    _row("patch-32x24x40", "patch [32,24,40] (last axis padded)", patch=(32, 24, 40)),
    _row("patch-16x32x32", "patch [16,32,32], strides [1,2,2] first, kernels [1,3,3], 1.1x1.1x2.6 mm to "
         "[3,1.2,1.2]", patch=(16, 32, 32), strides=ANISO_STRIDES, kernels=ANISO_KERNELS,
         zooms_mm=(1.1, 1.1, 2.6), spacing=(3.0, 1.2, 1.2), shape=(44, 40, 20), golden=True),
    _row("spacing-equal", "input spacing = plans spacing (no resampling)", zooms_mm=(1.5, 1.5, 1.5)),
    _row("spacing-equal-aniso", "0.8x0.8x2 mm input = plans [2,0.8,0.8] (no resampling, float32 zooms)",
         zooms_mm=(0.8, 0.8, 2.0), spacing=(2.0, 0.8, 0.8), shape=(44, 40, 20), patch=(16, 32, 32),
         strides=ANISO_STRIDES, kernels=ANISO_KERNELS),
    _row("spacing-sepz-input", "0.7x0.7x5 mm to [4,0.8,0.8]: separate z (input anisotropic)",
         zooms_mm=(0.7, 0.7, 5.0), spacing=(4.0, 0.8, 0.8), shape=(42, 38, 14), patch=(8, 32, 32),
         strides=((1, 1, 1), (1, 2, 2), (2, 2, 2), (1, 2, 2)), kernels=((1, 3, 3), (1, 3, 3), CONV_3[0], CONV_3[0]),
         golden=True),
    _row("spacing-sepz-iso-plans", "1x1x4 mm to isotropic 1.5 mm: separate z (input anisotropic)",
         zooms_mm=(1.0, 1.0, 4.0), shape=(40, 36, 12)),
    _row("spacing-sepz-aniso-plans", "isotropic 1 mm to [4,1,1]: separate z (plans anisotropic)",
         zooms_mm=(1.0, 1.0, 1.0), shape=(40, 36, 48), spacing=(4.0, 1.0, 1.0), patch=(8, 24, 24),
         strides=((1, 1, 1), (1, 2, 2), (2, 2, 2), (1, 2, 2)), kernels=((1, 3, 3), (1, 3, 3), CONV_3[0], CONV_3[0])),
    _row("spacing-down", "0.9 mm to 1.8 mm (downsampling)", zooms_mm=(0.9, 0.9, 0.9), shape=(48, 44, 40),
         spacing=(1.8, 1.8, 1.8), patch=(16, 16, 16)),
    _row("spacing-up", "2.5 mm to 1.25 mm (upsampling)", zooms_mm=(2.5, 2.5, 2.5), shape=(20, 18, 16),
         spacing=(1.25, 1.25, 1.25), golden=True),
    _row("spacing-two-lowres-axes", "3x3x0.8 mm to 1.5 mm (two low-res axes: no separate z)",
         zooms_mm=(3.0, 3.0, 0.8), shape=(16, 14, 44)),
    _row("config-fullres-high", "configuration 3d_fullres_high (1.2 mm)", configuration="3d_fullres_high",
         spacing=(1.2, 1.2, 1.2)),
    _row("config-lowres-high", "configuration 3d_lowres_high (2.4 mm; plans hold its cascade too)",
         configuration="3d_lowres_high", spacing=(2.4, 2.4, 2.4), patch=(16, 16, 16)),
    _row("config-inherits", "configuration 3d_fullres_custom inherits_from 3d_fullres (spacing, patch)",
         configuration="3d_fullres_custom", parent="3d_fullres", spacing=(1.25, 1.25, 1.25), golden=True),
    _row("folds-3", "folds 0,1,2 present and averaged, nnUNetTrainerNoMirroring", folds=(0, 1, 2),
         trainer="nnUNetTrainerNoMirroring"),
    _row("folds-3-use-01", "folds 0,1,2 present, --folds 0 1", folds=(0, 1, 2), use_folds=(0, 1), golden=True),
    _row("arch-legacy", "PlainConvUNet, legacy flat plans format", arch="plain-legacy"),
    _row("arch-resenc", "ResidualEncoderUNet (architecture format, n_blocks_per_stage 1,2,2,2)", arch="resenc",
         golden=True),
    _row("arch-resenc-legacy", "ResidualEncoderUNet, legacy flat plans format", arch="resenc-legacy"),
    _row("norm-zscore", "ZScoreNormalization, MR float32", modality="mr", norm="ZScoreNormalization"),
    _row("norm-zscore-mask", "ZScoreNormalization, use_mask_for_norm, MR float32", modality="mr",
         norm="ZScoreNormalization", mask_norm=True, golden=True),
    _row("norm-zscore-mask-nibabel-oblique", "ZScoreNormalization with mask, NibabelIOWithReorient, oblique MR",
         modality="mr", norm="ZScoreNormalization", mask_norm=True, reader="NibabelIOWithReorient",
         orientation="oblique"),
    _row("norm-zscore-sitk-lps", "ZScoreNormalization, SimpleITKIOWithReorient, LPS MR", modality="mr",
         norm="ZScoreNormalization", reader="SimpleITKIOWithReorient", orientation="LPS", golden=True),
    _row("norm-none", "NoNormalization, MR float32", modality="mr", norm="NoNormalization", golden=True),
    _row("norm-rescale01", "RescaleTo01Normalization, CT int16", norm="RescaleTo01Normalization", golden=True),
    _row("labels-custom", "labels tumor, cyst_left, cyst_right, necrosis (not TotalSegmentator classes)",
         labels=TWELVE[:4]),
    _row("labels-one", "one foreground label (tumor)", labels=("tumor",)),
    _row("labels-twelve", "twelve foreground labels", labels=TWELVE),
    _row("step-0.8", "tile step 0.8 (fewer tiles than 0.5 on every axis)", step=0.8, **STEP_GEOMETRY, golden=True),
    _row("step-0.8-folds", "tile step 0.8, folds 0,1,2 present, --folds 0 1", step=0.8, **STEP_GEOMETRY,
         folds=(0, 1, 2), use_folds=(0, 1)),
]


# -- plans.json and dataset.json ------------------------------------------------------------------


def dataset_json(row: Row) -> dict:
    """dataset.json as nnU-Net's raw dataset conversion writes it."""
    labels = {"background": 0, **{name: i + 1 for i, name in enumerate(row.labels)}}
    return {"channel_names": {"0": CHANNEL_NAMES[row.norm]}, "labels": labels, "numTraining": 10,
            "file_ending": ".nii.gz", "name": row.name, "licence": "Apache-2.0 (generated)"}


def plans_json(row: Row, dataset_name: str) -> dict:
    """plans.json as nnU-Net's experiment planner writes it (configurations, reader, transposes, intensities)."""
    return {
        "dataset_name": dataset_name,
        "plans_name": plans_name(row),
        "original_median_spacing_after_transp": list(row.spacing),
        "original_median_shape_after_transp": [64, 64, 64],
        "image_reader_writer": row.reader,
        "transpose_forward": list(row.transpose),
        "transpose_backward": [int(i) for i in np.argsort(row.transpose)],
        "configurations": configurations(row),
        "experiment_planner_used": "nnUNetPlannerResEncM" if row.arch.startswith("resenc") else "ExperimentPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {"0": CT_PROPERTIES if row.modality == "ct" else MR_PROPERTIES},
    }


def configurations(row: Row) -> dict:
    """The row's configuration; beside another one, 3d_fullres is a decoy at twice its spacing."""
    if row.configuration == "3d_fullres":
        return {"3d_fullres": configuration_block(row)}
    decoy = replace(row, configuration="3d_fullres", spacing=_doubled(row.spacing))
    if row.parent is not None:  # the parent holds the network; the child overrides spacing and patch
        child = {"inherits_from": row.parent, "spacing": list(row.spacing), "patch_size": list(row.patch),
                 "batch_size": 4, "data_identifier": f"{plans_name(row)}_{row.configuration}"}
        return {"3d_fullres": configuration_block(replace(decoy, patch=(16, 16, 16))), row.configuration: child}
    out = {"3d_fullres": configuration_block(decoy), row.configuration: configuration_block(row)}
    if row.configuration == "3d_lowres_high":  # a low-res stage with its cascade, as the planner writes them
        out[row.configuration]["next_stage"] = "3d_cascade_fullres"
        out["3d_cascade_fullres"] = {"inherits_from": "3d_fullres", "previous_stage": row.configuration}
    return out


def configuration_block(row: Row) -> dict:
    """One entry of ``configurations``, with the network in the row's plans format."""
    block = {
        "data_identifier": f"{plans_name(row)}_{row.configuration}",
        "preprocessor_name": "DefaultPreprocessor",
        "batch_size": 2,
        "patch_size": list(row.patch),
        "median_image_size_in_voxels": [48, 44, 40],
        "spacing": list(row.spacing),
        "normalization_schemes": [row.norm],
        "use_mask_for_norm": [row.mask_norm],
        "resampling_fn_data": "resample_data_or_seg_to_shape",
        "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
        "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0, "force_separate_z": None},
        "batch_dice": False,
    }
    block.update(legacy_network(row) if row.arch.endswith("legacy") else {"architecture": architecture(row)})
    return block


def architecture(row: Row) -> dict:
    """The ``architecture`` block of current plans (dynamic_network_architectures class and kwargs)."""
    n = len(row.strides)
    resenc = row.arch == "resenc"
    kwargs = {
        "n_stages": n,
        "features_per_stage": list(row.features),
        "conv_op": "torch.nn.modules.conv.Conv3d",
        "kernel_sizes": [list(k) for k in row.kernels],
        "strides": [list(s) for s in row.strides],
        ("n_blocks_per_stage" if resenc else "n_conv_per_stage"): [1, 2, 2, 2][:n] if resenc else [2] * n,
        "n_conv_per_stage_decoder": [1 if resenc else 2] * (n - 1),
        "conv_bias": True,
        "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
        "norm_op_kwargs": {"eps": 1e-05, "affine": True},
        "dropout_op": None,
        "dropout_op_kwargs": None,
        "nonlin": "torch.nn.LeakyReLU",
        "nonlin_kwargs": {"inplace": True},
    }
    name = "ResidualEncoderUNet" if resenc else "PlainConvUNet"
    return {"network_class_name": f"dynamic_network_architectures.architectures.unet.{name}",
            "arch_kwargs": kwargs, "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"]}


def legacy_network(row: Row) -> dict:
    """The flat network keys of older nnU-Net v2 plans (features are base * 2**i, capped)."""
    n = len(row.strides)
    base, cap = row.features[0], row.features[-1]
    if list(row.features) != [min(base * 2**i, cap) for i in range(n)]:
        raise ValueError(f"{row.name}: legacy plans need features base * 2**i capped, got {row.features}")
    resenc = row.arch == "resenc-legacy"
    return {
        "UNet_class_name": "ResidualEncoderUNet" if resenc else "PlainConvUNet",
        "UNet_base_num_features": base,
        "n_conv_per_stage_encoder": [1, 2, 2, 2][:n] if resenc else [2] * n,
        "n_conv_per_stage_decoder": [1 if resenc else 2] * (n - 1),
        "num_pool_per_axis": [sum(s[axis] > 1 for s in row.strides) for axis in range(3)],
        "pool_op_kernel_sizes": [list(s) for s in row.strides],
        "conv_kernel_sizes": [list(k) for k in row.kernels],
        "unet_max_num_features": cap,
    }


def plans_name(row: Row) -> str:
    return "nnUNetResEncUNetMPlans" if row.arch.startswith("resenc") else "nnUNetPlans"


def _doubled(spacing: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(2 * s for s in spacing)


# -- network and checkpoints ----------------------------------------------------------------------


def build_network(plans: dict, dataset: dict, row: Row) -> torch.nn.Module:
    """The network exactly as nnU-Net's predictor builds it (the trainer's builder, no deep supervision)."""
    manager = PlansManager(plans)
    config = manager.get_configuration(row.configuration)
    heads = manager.get_label_manager(dataset).num_segmentation_heads
    trainer = recursive_find_trainer_class_by_name(row.trainer)
    return trainer.build_network_architecture(manager, config, 1, heads, enable_deep_supervision=False)


def seed_weights(network: torch.nn.Module, seed: int) -> None:
    """He-normal kernels (x1.5 in the segmentation layers), random norm affines and biases, one numpy seed.

    ``named_parameters`` lists a tensor shared by two modules once, so it is drawn once.
    """
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, param in network.named_parameters():
            shape = tuple(param.shape)
            if len(shape) == 5:  # convolution or transposed convolution kernel
                std = np.sqrt(2.0 / np.prod(shape[1:])) * (1.5 if "seg_layers" in name else 1.0)
                values = rng.normal(0.0, std, shape)
            elif "norm" in name and name.endswith("weight"):
                values = 1.0 + 0.25 * rng.normal(size=shape)
            else:
                values = 0.1 * rng.normal(size=shape)
            param.copy_(torch.from_numpy(values.astype(np.float32)))


def checkpoint(network: torch.nn.Module, plans: dict, dataset: dict, row: Row, fold: int) -> dict:
    """The dict nnUNetTrainer.save_checkpoint writes (plain containers, tensors, numbers and a device)."""
    optimizer = torch.optim.SGD(network.parameters(), lr=1e-2, momentum=0.99, nesterov=True, weight_decay=3e-5)
    mirror_axes = None if row.trainer == "nnUNetTrainerNoMirroring" else (0, 1, 2)
    return {
        "network_weights": network.state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "grad_scaler_state": None,
        "logging": {},
        "_best_ema": 0.5,
        "current_epoch": 1000,
        "init_args": {"plans": plans, "configuration": row.configuration, "fold": fold, "dataset_json": dataset,
                      "device": torch.device("cpu")},
        "trainer_name": row.trainer,
        "inference_allowed_mirroring_axes": mirror_axes,
    }


def write_model_folder(row: Row, results: Path, dataset_id: int) -> Path:
    """``results/DatasetNNN_name/<trainer>__<plans>__<configuration>`` with one checkpoint per fold."""
    dataset_name = f"Dataset{dataset_id:03d}_{row.name.title().replace('-', '')}"
    plans, dataset = plans_json(row, dataset_name), dataset_json(row)
    folder = results / dataset_name / f"{row.trainer}__{plans_name(row)}__{row.configuration}"
    folder.mkdir(parents=True)
    (folder / "plans.json").write_text(json.dumps(plans, indent=4))
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=4))
    for fold in row.folds:
        network = build_network(plans, dataset, row)
        seed_weights(network, row.seed + 7919 * (fold + 1))
        (folder / f"fold_{fold}").mkdir()
        torch.save(checkpoint(network, plans, dataset, row, fold), folder / f"fold_{fold}" / "checkpoint_final.pth")
    return folder


# -- the phantom input ----------------------------------------------------------------------------


def affine(row: Row) -> np.ndarray:
    """RAS, LPS, or oblique: axes permuted (P, S, L) and rotated 12 degrees about an oblique axis."""
    linear = np.diag(row.zooms_mm).astype(float)
    if row.orientation == "LPS":
        linear = np.diag([-1.0, -1.0, 1.0]) @ linear
    elif row.orientation == "oblique":
        permute = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        linear = rotation(np.deg2rad(12.0), np.array([0.3, 0.5, 1.0])) @ permute @ linear
    out = np.eye(4)
    out[:3, :3] = linear
    out[:3, 3] = [-31.5, 22.25, -57.0]
    return out


def rotation(angle: float, axis: np.ndarray) -> np.ndarray:
    """Rodrigues' rotation matrix about ``axis``."""
    k = axis / np.linalg.norm(axis)
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


def phantom(shape: tuple[int, int, int], modality: str, rng: np.random.Generator) -> np.ndarray:
    """Blobs of distinct intensities on a smoothly shaded body, a non-zero background, an exact-zero margin.

    CT: int16 HU, air (-1000) around the body, blobs from lung to dense bone (clipped by CT
    normalization). MR: float32 in quarter steps, exactly 0 around the body except a noisy table
    slab, so a z-score with ``use_mask_for_norm`` leaves the voxels between them out. The margin is
    1-4 voxels wide (at most an eighth of the axis) on each side, so nnU-Net's crop to non-zero cuts
    unevenly.
    """
    grid = np.meshgrid(*[np.linspace(-1.0, 1.0, n) for n in shape], indexing="ij")
    x, y, z = grid
    ct = modality == "ct"
    image = np.full(shape, -1000.0 if ct else 0.0)
    if not ct:
        table = y < -0.82
        image[table] = 8.0 + rng.normal(0.0, 1.0, int(table.sum()))
    body = _ellipsoid(grid, np.zeros(3), np.array([0.85, 0.75, 0.95]))
    shading = 40.0 + 30.0 * x + 15.0 * z if ct else 100.0 + 20.0 * x - 10.0 * y
    image[body] = shading[body]
    for value in ((300.0, 80.0, -600.0, 150.0, 1200.0) if ct else (250.0, 40.0, 180.0, 320.0, 20.0)):
        blob = _ellipsoid(grid, rng.uniform(-0.45, 0.45, 3), rng.uniform(0.15, 0.32, 3))
        image[blob] = value + 0.5 * shading[blob]
    image = np.rint(image) if ct else np.round(image * 4) / 4
    if ct:
        image[image == 0] = 1.0  # exact zeros only in the margin
    for axis, n in enumerate(shape):
        lo, hi = rng.integers(1, max(2, min(5, n // 8 + 1)), size=2)
        image[(slice(None),) * axis + (slice(0, lo),)] = 0
        image[(slice(None),) * axis + (slice(shape[axis] - hi, None),)] = 0
    return image.astype(np.int16 if ct else np.float32)


def _ellipsoid(grid: list[np.ndarray], center: np.ndarray, radii: np.ndarray) -> np.ndarray:
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, center, radii)) <= 1


def write_input(row: Row, path: Path) -> Path:
    """The phantom as NIfTI with qform and sform both set (code 1), as scanners' converters write it."""
    data = phantom(row.shape, row.modality, np.random.default_rng(row.seed))
    img = nib.Nifti1Image(data, affine(row))
    img.set_qform(affine(row), code=1)
    img.set_sform(affine(row), code=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)
    return path


# -- nnU-Net's prediction -------------------------------------------------------------------------


def predict(row: Row, model: Path, image: Path, out_dir: Path) -> str | None:
    """nnUNetv2_predict on one case into ``out_dir/case.nii.gz``; the first line of its error, if any."""
    try:
        predictor = nnUNetPredictor(tile_step_size=row.step, use_gaussian=True, use_mirroring=False,
                                    perform_everything_on_device=False, device=torch.device("cpu"), verbose=False,
                                    allow_tqdm=False)
        predictor.initialize_from_trained_model_folder(str(model), use_folds=row.use_folds,
                                                       checkpoint_name="checkpoint_final.pth")
        predictor.predict_from_files_sequential([[str(image)]], [str(out_dir / "case")],
                                                save_probabilities=False, overwrite=True)
    except Exception as exc:  # any failure of nnU-Net is the row's result
        text = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
    return None


def tile_grid(row: Row, model: Path, image: Path) -> dict:
    """The shape nnU-Net's preprocessor gives the network and its tiles per axis at the row's step."""
    manager = PlansManager(str(model / "plans.json"))
    config = manager.get_configuration(row.configuration)
    dataset = json.loads((model / "dataset.json").read_text())
    data, _, _ = config.preprocessor_class(verbose=False).run_case([str(image)], None, manager, config, dataset)
    padded = [max(size, patch) for size, patch in zip(data.shape[1:], config.patch_size)]
    steps = compute_steps_for_sliding_window(padded, config.patch_size, row.step)
    return {"network_shape": [int(n) for n in data.shape[1:]], "tiles": [len(axis) for axis in steps]}


def run_row(row: Row, out: Path, dataset_id: int) -> dict:
    """Build the row's model folder and input under ``out/<row>``, run nnU-Net, describe the result."""
    root = out / row.name
    shutil.rmtree(root, ignore_errors=True)
    (root / "nnunet").mkdir(parents=True)
    with (root / "nnunet.log").open("w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        model = write_model_folder(row, root / "results", dataset_id)
        image = write_input(row, root / "input" / "case_0000.nii.gz")
        start = time.perf_counter()
        error = predict(row, model, image, root / "nnunet")
        seconds = time.perf_counter() - start
        grid = {} if error else tile_grid(row, model, image)
    expected = root / "nnunet" / "case.nii.gz"
    labels = [] if error else [int(v) for v in np.unique(np.asanyarray(nib.load(expected).dataobj))]
    return {"name": row.name, "what": row.what, "golden": row.golden, "input": str(image.relative_to(out)),
            "model_dir": str(model.relative_to(out)), "folds": list(row.use_folds) if row.use_folds else None,
            "step": row.step, "expected": None if error else str(expected.relative_to(out)), "error": error,
            "labels": labels, **grid, "nnunet_s": round(seconds, 2), "row": asdict(row)}


def select(names: list[str] | None, golden: bool) -> list[Row]:
    """The rows named (all by default), only the golden ones with ``golden``."""
    known = {row.name for row in ROWS}
    unknown = sorted(set(names or ()) - known)
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; known: {', '.join(row.name for row in ROWS)}")
    return [row for row in ROWS if (not names or row.name in names) and (row.golden or not golden)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="work folder (rows are rebuilt in it)")
    parser.add_argument("--rows", nargs="+", metavar="NAME", help="default: all rows")
    parser.add_argument("--golden", action="store_true", help="only the rows kept as golden test fixtures")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    entries = []
    for row in select(args.rows, args.golden):
        entry = run_row(row, args.out, 900 + ROWS.index(row))
        result = entry["error"] or f"labels {entry['labels']}, tiles {entry['tiles']} on {entry['network_shape']}"
        print(f"nnU-Net {row.name}: {result} ({entry['nnunet_s']:.1f} s)", file=sys.stderr, flush=True)
        entries.append(entry)
    versions = {name: importlib.metadata.version(name) for name in ("nnunetv2", "dynamic_network_architectures",
                                                                   "torch", "SimpleITK", "nibabel", "numpy")}
    (args.out / "manifest.json").write_text(json.dumps({"versions": versions, "rows": entries}, indent=1))


if __name__ == "__main__":
    main()
