"""Read an nnU-Net v2 model folder's plans.json and dataset.json into one typed configuration.

Both plans formats are supported: the legacy flat one the official TotalSegmentator weights use
(``UNet_class_name``, ``UNet_base_num_features``, ...) and the ``architecture`` block nnU-Net >= 2.4
writes. Class names found in plans are resolved through an allow-list, never imported by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from totalseg.errors import WeightsError

# Architectures we build, by the last component of the class path found in plans.
NETWORK_CLASSES = ("PlainConvUNet", "ResidualEncoderUNet")
_LEGACY_FEATURE_CAP = 320


@dataclass(frozen=True)
class IntensityProperties:
    """Foreground intensity statistics nnU-Net's CT normalization uses."""

    mean: float
    std: float
    percentile_00_5: float
    percentile_99_5: float


@dataclass(frozen=True)
class ModelConfig:
    """Everything inference needs from plans.json + dataset.json (one configuration).

    Axis-ordered fields (``patch_size``, ``spacing``) are in nnU-Net's array order, i.e. after
    the reader's axis convention and ``transpose_forward``.
    """

    network_class: str
    arch_kwargs: dict[str, Any]
    patch_size: tuple[int, ...]
    spacing: tuple[float, ...]
    normalization: str
    use_mask_for_norm: bool
    intensity: IntensityProperties | None
    transpose_forward: tuple[int, ...]
    transpose_backward: tuple[int, ...]
    image_reader: str
    labels: dict[int, str]
    num_input_channels: int

    @property
    def num_outputs(self) -> int:
        """Segmentation heads: background plus every foreground label."""
        return len(self.labels)

    @classmethod
    def from_folder(cls, model_dir: Path, configuration: str = "3d_fullres") -> ModelConfig:
        """Read ``plans.json`` and ``dataset.json`` from an nnU-Net model folder."""
        plans = _read_json(model_dir / "plans.json")
        dataset = _read_json(model_dir / "dataset.json")
        return cls.from_dicts(plans, dataset, configuration=configuration, source=model_dir)

    @classmethod
    def from_dicts(
        cls, plans: dict, dataset: dict, *, configuration: str = "3d_fullres", source: Path | str = "plans"
    ) -> ModelConfig:
        try:
            conf = _resolve_configuration(plans, configuration)
            network_class, arch_kwargs = _architecture(conf)
            labels = {int(v): str(k) for k, v in dataset["labels"].items()}
            transpose_forward = tuple(plans.get("transpose_forward", (0, 1, 2)))
            return cls(
                network_class=network_class,
                arch_kwargs=arch_kwargs,
                patch_size=tuple(int(p) for p in conf["patch_size"]),
                spacing=tuple(float(s) for s in conf["spacing"]),
                normalization=conf["normalization_schemes"][0],
                use_mask_for_norm=bool(conf["use_mask_for_norm"][0]),
                intensity=_intensity(plans),
                transpose_forward=transpose_forward,
                transpose_backward=tuple(plans.get("transpose_backward", transpose_forward)),
                image_reader=plans.get("image_reader_writer", "SimpleITKIO"),
                labels=dict(sorted(labels.items())),
                num_input_channels=len(dataset.get("channel_names", dataset.get("modality", {"0": ""}))),
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise WeightsError(f"{source}: plans.json/dataset.json are not nnU-Net v2 plans ({exc!r})") from exc


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise WeightsError(f"{path} is missing; a model folder holds plans.json, dataset.json, fold_0/")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{path}: not readable JSON ({exc}); re-download or re-import the weights") from exc


def _resolve_configuration(plans: dict, name: str, seen: tuple[str, ...] = ()) -> dict:
    configs = plans["configurations"]
    if name not in configs:
        raise KeyError(f"configuration {name!r} not in plans ({', '.join(configs)})")
    conf = dict(configs[name])
    parent = conf.pop("inherits_from", None)
    if parent is None:
        return conf
    if parent in seen:
        raise ValueError(f"circular inherits_from: {seen + (name,)}")
    return {**_resolve_configuration(plans, parent, seen + (name,)), **conf}


def _architecture(conf: dict) -> tuple[str, dict[str, Any]]:
    """The network class name and its constructor kwargs (import paths left as strings)."""
    if "architecture" in conf:
        arch = conf["architecture"]
        return _allowed_class(arch["network_class_name"]), dict(arch["arch_kwargs"])
    return _legacy_architecture(conf)


def _legacy_architecture(conf: dict) -> tuple[str, dict[str, Any]]:
    """Rebuild the architecture block from the legacy flat format, exactly as nnU-Net does."""
    class_name = _allowed_class(conf["UNet_class_name"])
    n_stages = len(conf["n_conv_per_stage_encoder"])
    dim = len(conf["patch_size"])
    base = conf["UNet_base_num_features"]
    cap = conf.get("unet_max_num_features", _LEGACY_FEATURE_CAP)
    blocks_key = "n_conv_per_stage" if class_name == "PlainConvUNet" else "n_blocks_per_stage"
    kwargs = {
        "n_stages": n_stages,
        "features_per_stage": [min(base * 2**i, cap) for i in range(n_stages)],
        "conv_op": f"torch.nn.modules.conv.Conv{dim}d",
        "kernel_sizes": conf["conv_kernel_sizes"],
        "strides": conf["pool_op_kernel_sizes"],
        blocks_key: conf["n_conv_per_stage_encoder"],
        "n_conv_per_stage_decoder": conf["n_conv_per_stage_decoder"],
        "conv_bias": True,
        "norm_op": f"torch.nn.modules.instancenorm.InstanceNorm{dim}d",
        "norm_op_kwargs": {"eps": 1e-05, "affine": True},
        "dropout_op": None,
        "dropout_op_kwargs": None,
        "nonlin": "torch.nn.LeakyReLU",
        "nonlin_kwargs": {"inplace": True},
    }
    return class_name, kwargs


def _allowed_class(path: str) -> str:
    name = path.rsplit(".", 1)[-1]
    if name not in NETWORK_CLASSES:
        raise ValueError(f"network class {path!r} is not supported (supported: {', '.join(NETWORK_CLASSES)})")
    return name


def _intensity(plans: dict) -> IntensityProperties | None:
    props = plans.get("foreground_intensity_properties_per_channel", {}).get("0")
    if props is None:
        return None
    return IntensityProperties(
        mean=float(props["mean"]),
        std=float(props["std"]),
        percentile_00_5=float(props["percentile_00_5"]),
        percentile_99_5=float(props["percentile_99_5"]),
    )
