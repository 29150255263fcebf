"""A body-statistics model in the official layout with seeded random weights, for tests and the
golden script: the official weights come only from the licence server, so the code path that reads
them is checked on a model of the same format whose numbers anyone can recreate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from totalseg.measure.body_stats_model import FOLDS, build_network

# A half-width 3-D ResNet-10 predicting the 13 CT targets, on a small crop so that it runs in a second.
TINY_CT_HPARAMS: dict[str, Any] = {
    "model": "resnet3d_10_w05", "dim": 3, "crop_size": [48, 48, 24], "nr_classes": 13, "dropout": 0.1,
    "clip": True, "clip_low": -1000, "clip_high": 1500, "normalize": True, "norm_channel_wise": True,
    "reg_target_normalize": True,
    "reg_target_mean": [75.0, 172.0, 58.0, 0.5, 2.0, 120.0, 250.0, 5.0, 0.5, 60.0, 12.0, 20.0, 10.0],
    "reg_target_std": [15.0, 10.0, 16.0, 0.5, 1.5, 10.0, 120.0, 3.0, 0.5, 30.0, 5.0, 4.0, 5.0],
}
# The full-width ResNet-10 with one small head per target, on a 2 mm grid from the first crop.
MULTIHEAD_CT_HPARAMS: dict[str, Any] = {**TINY_CT_HPARAMS, "model": "resnet3d_10_multihead", "crop_size": [40, 40, 20],
                                        "clip_high": 1000, "daug_scale_itensity": True}


def write_synthetic_model(folder: Path, hparams: Mapping[str, Any] = TINY_CT_HPARAMS, *, seed: int = 0,
                          folds: Sequence[int] = FOLDS) -> Path:
    """Lightning checkpoints ``version_<fold>/checkpoints/epoch=0-step=0.ckpt`` of the network
    ``hparams`` describe, weights drawn from ``numpy.random.RandomState(seed + fold)`` (a stream
    numpy keeps stable across versions), with the official ``backbone.`` prefix.

    Examples:
        >>> write_synthetic_model(Path("ct_all_ext_splitOrig_noise_can1_huber"))  # doctest: +SKIP
    """
    for fold in folds:
        network = build_network(hparams)
        rng = np.random.RandomState(seed + fold)
        state = {f"backbone.{name}": _seeded(name, tensor, rng) for name, tensor in network.state_dict().items()}
        target = Path(folder) / f"version_{fold}" / "checkpoints" / "epoch=0-step=0.ckpt"
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": state, "hyper_parameters": dict(hparams), "epoch": 0}, target)
    return Path(folder)


def _seeded(name: str, tensor: torch.Tensor, rng: np.random.RandomState) -> torch.Tensor:
    """He-scaled weights, small biases, batch-norm statistics near identity; counters kept."""
    if not tensor.is_floating_point():
        return tensor.clone()
    shape = tuple(tensor.shape)
    if name.endswith("running_var"):
        values = rng.uniform(0.5, 1.5, shape)
    elif name.endswith("running_mean") or name.endswith("bias"):
        values = rng.normal(0.0, 0.1, shape)
    elif tensor.ndim == 1:  # batch-norm scale
        values = rng.uniform(0.5, 1.5, shape)
    else:
        fan_in = int(np.prod(shape[1:]))
        values = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
    return torch.from_numpy(values.astype(np.float32))
