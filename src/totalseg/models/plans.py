"""Read an nnU-Net v2 model folder's plans.json and dataset.json into one typed configuration.

Both plans formats are supported: the legacy flat one the official TotalSegmentator weights use
(``UNet_class_name``, ``UNet_base_num_features``, ...) and the ``architecture`` block nnU-Net >= 2.4
writes. Class names found in plans are resolved through an allow-list, never imported by name.

Every value that changes what nnU-Net computes is checked here, once: a reader, normalization,
resampling function, preprocessor or label manager we do not implement is refused with the field
and value named, never run with a guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from totalseg.errors import WeightsError
from totalseg.models.readers import get_reader

# Architectures we build, by the last component of the class path found in plans.
NETWORK_CLASSES = ("PlainConvUNet", "ResidualEncoderUNet")
NORMALIZATIONS = ("CTNormalization", "ZScoreNormalization", "NoNormalization", "RescaleTo01Normalization")
# nnU-Net's resampling functions we reproduce (nnunetv2/preprocessing/resampling/).
RESAMPLING_FUNCTIONS = ("resample_data_or_seg_to_shape", "no_resampling_hack")
DEFAULT_CONFIGURATION = "3d_fullres"
_LEGACY_FEATURE_CAP = 320
_ANISO_THRESHOLD = 3.0  # nnunetv2.configuration.ANISO_THRESHOLD


@dataclass(frozen=True)
class IntensityProperties:
    """Foreground intensity statistics nnU-Net's CT normalization uses."""

    mean: float
    std: float
    percentile_00_5: float
    percentile_99_5: float


@dataclass(frozen=True)
class Resampling:
    """One of nnU-Net's resampling functions with its keyword arguments from plans.json.

    The defaults are those of ``resample_data_or_seg_to_shape``'s signature, which apply to any
    keyword plans.json leaves out.
    """

    function: str = "resample_data_or_seg_to_shape"
    order: int = 3
    order_z: int = 0
    force_separate_z: bool | None = False
    anisotropy_threshold: float = _ANISO_THRESHOLD

    @classmethod
    def from_plans(cls, conf: dict, key: str) -> Resampling:
        """The function named by ``conf[key]`` with ``conf[key + "_kwargs"]``; refuses what we cannot run.

        ``is_seg`` must be true for ``resampling_fn_seg`` (label maps) and false for the others.
        """
        function = conf.get(key, "resample_data_or_seg_to_shape")
        if function not in RESAMPLING_FUNCTIONS:
            raise ValueError(f"{key} {function!r} is not supported (supported: {', '.join(RESAMPLING_FUNCTIONS)})")
        kwargs = dict(conf.get(f"{key}_kwargs", {}))
        if function == "no_resampling_hack":
            return cls(function)
        labels = key == "resampling_fn_seg"
        if bool(kwargs.pop("is_seg", labels)) != labels:
            raise ValueError(f"{key}_kwargs has is_seg {not labels}: images and logits are resampled as images, "
                             "label maps as labels")
        known = {"order", "order_z", "force_separate_z", "separate_z_anisotropy_threshold"}
        if set(kwargs) - known:
            raise ValueError(f"{key}_kwargs holds unknown keys {sorted(set(kwargs) - known)}")
        threshold = kwargs.pop("separate_z_anisotropy_threshold", _ANISO_THRESHOLD)
        return cls(function, anisotropy_threshold=float(threshold), **kwargs)


@dataclass(frozen=True)
class ModelConfig:
    """Everything inference needs from plans.json + dataset.json (one configuration).

    Axis-ordered fields (``patch_size``, ``spacing``) are in nnU-Net's array order, i.e. after
    the reader's axis convention and ``transpose_forward``. ``labels`` maps each network output
    channel to its name: nnU-Net writes the channel index, which is the label id of dataset.json
    for the consecutive ids nnU-Net trains with.
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
    configuration: str = DEFAULT_CONFIGURATION
    data_resampling: Resampling = Resampling()
    logits_resampling: Resampling = Resampling(order=1)
    label_resampling: Resampling = Resampling(order=1)  # training label maps

    @property
    def num_outputs(self) -> int:
        """Segmentation heads: background plus every foreground label."""
        return len(self.labels)

    @classmethod
    def from_folder(cls, model_dir: Path, configuration: str | None = None) -> ModelConfig:
        """Read ``plans.json`` and ``dataset.json`` from an nnU-Net model folder.

        ``configuration`` defaults to the one the folder is named for (``<trainer>__<plans>__<configuration>``).
        """
        plans = _read_json(model_dir / "plans.json")
        dataset = _read_json(model_dir / "dataset.json")
        configuration = configuration or folder_configuration(model_dir, plans)
        return cls.from_dicts(plans, dataset, configuration=configuration, source=model_dir)

    @classmethod
    def from_dicts(
        cls, plans: dict, dataset: dict, *, configuration: str = DEFAULT_CONFIGURATION, source: Path | str = "plans"
    ) -> ModelConfig:
        try:
            conf = _resolve_configuration(plans, configuration)
            _check_supported(plans, conf)
            network_class, arch_kwargs = _architecture(conf)
            transpose_forward, transpose_backward = _transposes(plans)
            config = cls(
                network_class=network_class,
                arch_kwargs=arch_kwargs,
                patch_size=tuple(int(p) for p in conf["patch_size"]),
                spacing=tuple(float(s) for s in conf["spacing"]),
                normalization=_normalization(conf),
                use_mask_for_norm=bool(conf["use_mask_for_norm"][0]),
                intensity=_intensity(plans),
                transpose_forward=transpose_forward,
                transpose_backward=transpose_backward,
                image_reader=get_reader(plans.get("image_reader_writer", "SimpleITKIO")).name,
                labels=_output_labels(dataset["labels"]),
                num_input_channels=_input_channels(dataset),
                configuration=configuration,
                data_resampling=Resampling.from_plans(conf, "resampling_fn_data"),
                logits_resampling=Resampling.from_plans(conf, "resampling_fn_probabilities"),
                label_resampling=Resampling.from_plans(conf, "resampling_fn_seg"),
            )
        except WeightsError as exc:
            raise WeightsError(f"{source}: {exc}") from None
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise WeightsError(f"{source}: plans.json/dataset.json are not nnU-Net v2 plans ({exc!r})") from exc
        if len(config.patch_size) != 3 or len(config.spacing) != 3:
            raise WeightsError(f"{source}: configuration {configuration!r} is not 3-D (patch {config.patch_size}); "
                               "totalseg runs 3-D nnU-Net models")
        return config


def folder_configuration(model_dir: Path, plans: dict) -> str:
    """The configuration a model folder is named for, when plans.json has it; else ``3d_fullres``.

    Examples:
        >>> folder_configuration(Path("nnUNetTrainer__nnUNetPlans__3d_lowres"), {"configurations": {"3d_lowres": {}}})
        '3d_lowres'
    """
    name = Path(model_dir).name.rsplit("__", 1)[-1]
    return name if name in plans.get("configurations", {}) else DEFAULT_CONFIGURATION


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


def _check_supported(plans: dict, conf: dict) -> None:
    """Refuse plans that name a preprocessor or label manager other than nnU-Net's defaults."""
    for field, value, allowed in (("preprocessor_name", conf.get("preprocessor_name"), "DefaultPreprocessor"),
                                  ("label_manager", plans.get("label_manager"), "LabelManager")):
        if value not in (None, allowed):
            raise WeightsError(f"plans.json: {field} {value!r} is not supported (supported: {allowed})")


def _transposes(plans: dict) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``transpose_forward`` and its inverse; a missing ``transpose_backward`` is that inverse (what
    nnU-Net's planner writes), a given one must be it."""
    forward = tuple(int(i) for i in plans.get("transpose_forward", (0, 1, 2)))
    if sorted(forward) != [0, 1, 2]:
        raise WeightsError(f"plans.json: transpose_forward {list(forward)} is not a permutation of [0, 1, 2]")
    inverse = tuple(forward.index(i) for i in range(3))
    backward = tuple(int(i) for i in plans.get("transpose_backward", inverse))
    if backward != inverse:
        raise WeightsError(f"plans.json: transpose_backward {list(backward)} does not undo transpose_forward "
                           f"{list(forward)} (expected {list(inverse)}); the plans are inconsistent")
    return forward, backward


def _normalization(conf: dict) -> str:
    schemes = conf["normalization_schemes"]
    if schemes[0] not in NORMALIZATIONS:
        raise WeightsError(f"plans.json: normalization {schemes[0]!r} is not supported "
                           f"(supported: {', '.join(NORMALIZATIONS)})")
    return schemes[0]


def _output_labels(labels: dict) -> dict[int, str]:
    """Output channel -> name, as nnU-Net's LabelManager orders them (sorted unique label values,
    the ``ignore`` label excluded); region-based models are refused."""
    regions = [name for name, value in labels.items() if isinstance(value, (list, tuple)) and len(value) > 1]
    if regions:
        raise WeightsError(f"dataset.json: region-based labels ({', '.join(regions[:3])}) are not supported; "
                           "totalseg runs models with one label per output channel")
    names: dict[int, str] = {}
    for name, value in labels.items():
        if name != "ignore":
            names.setdefault(int(value[0] if isinstance(value, (list, tuple)) else value), str(name))
    if names.get(0) is None:
        raise WeightsError("dataset.json: no background label 0")
    return {channel: names[value] for channel, value in enumerate(sorted(names))}


def _input_channels(dataset: dict) -> int:
    channels = len(dataset.get("channel_names", dataset.get("modality", {"0": ""})))
    if channels != 1:
        raise WeightsError(f"dataset.json: the model takes {channels} input channels; totalseg feeds it one image, "
                           "so it runs single-channel models only")
    return channels


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
