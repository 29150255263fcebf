"""Build the network a model folder describes and load its weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from dynamic_network_architectures.architectures.unet import PlainConvUNet, ResidualEncoderUNet
from torch import nn

from totalseg.errors import WeightsError
from totalseg.models.plans import ModelConfig

_CLASSES = {"PlainConvUNet": PlainConvUNet, "ResidualEncoderUNet": ResidualEncoderUNet}
# The only import paths plans may name; nothing else is resolved.
_OPS: dict[str, type[nn.Module]] = {
    f"torch.nn.modules.{mod}.{cls.__name__}": cls
    for mod, classes in {
        "conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d),
        "instancenorm": (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d),
        "batchnorm": (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d),
        "dropout": (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d),
        "activation": (nn.LeakyReLU, nn.ReLU, nn.GELU, nn.PReLU),
    }.items()
    for cls in classes
}
_OPS.update({f"torch.nn.{cls.__name__}": cls for cls in set(_OPS.values())})
_IMPORT_KEYS = ("conv_op", "norm_op", "dropout_op", "nonlin")


def build_network(config: ModelConfig) -> nn.Module:
    """The architecture of ``config`` with freshly initialised weights, in eval mode, no deep supervision."""
    kwargs: dict[str, Any] = dict(config.arch_kwargs)
    for key in _IMPORT_KEYS:
        if kwargs.get(key) is not None:
            if kwargs[key] not in _OPS:
                raise WeightsError(f"plans name an unsupported layer {kwargs[key]!r} for {key}")
            kwargs[key] = _OPS[kwargs[key]]
    network = _CLASSES[config.network_class](
        input_channels=config.num_input_channels,
        num_classes=config.num_outputs,
        deep_supervision=False,
        **kwargs,
    )
    return network.eval()


def load_weights(network: nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: str = "checkpoint") -> None:
    """Copy ``state_dict`` into ``network``; any missing, extra or misshaped tensor is a WeightsError."""
    expected = network.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    misshaped = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or misshaped:
        parts = [
            f"{label}: {', '.join(items[:3])}{' ...' if len(items) > 3 else ''}"
            for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshaped))
            if items
        ]
        raise WeightsError(
            f"{source}: weights do not fit the network in plans.json ({'; '.join(parts)}); "
            "plans.json and checkpoint must come from the same model"
        )
    network.load_state_dict(state_dict, strict=True)
