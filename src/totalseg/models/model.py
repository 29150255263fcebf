"""A loaded model: configuration plus network with its weights, cached once per process."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from totalseg.errors import WeightsError
from totalseg.models.checkpoint import load_checkpoint
from totalseg.models.network import build_network, load_weights
from totalseg.models.plans import ModelConfig

CHECKPOINT = "checkpoint_final.pth"


@dataclass(frozen=True, eq=False)
class Model:
    """An nnU-Net v2 model ready for inference on ``device``."""

    folder: Path
    config: ModelConfig
    network: nn.Module
    device: torch.device

    @classmethod
    def from_folder(cls, folder: Path, *, device: torch.device = torch.device("cpu"), fold: str = "fold_0") -> Model:
        """Load ``folder`` (holding plans.json, dataset.json, ``fold/checkpoint_final.pth``)."""
        folder = Path(folder)
        config = ModelConfig.from_folder(folder)
        checkpoint = load_checkpoint(folder / fold / CHECKPOINT)
        network = _network_to_load(config)
        load_weights(network, checkpoint["network_weights"], source=str(folder / fold / CHECKPOINT))
        return cls(folder, config, network.to(device).eval(), device)


def _network_to_load(config: ModelConfig) -> nn.Module:
    """The architecture with uninitialised tensors, since every one is overwritten by the checkpoint
    (random initialisation of a 118-class network costs about 0.15 s)."""
    with torch.device("meta"):
        network = build_network(config)
    if any(True for _ in network.buffers()):
        return build_network(config)  # buffers may not be in the checkpoint: they need their initial value
    # Not nn.Module.to_empty: its empty_like on meta tensors imports sympy (0.5 s) in torch 2.x.
    for module in network.modules():
        for name, param in module.named_parameters(recurse=False):
            setattr(module, name, nn.Parameter(torch.empty(param.shape, dtype=param.dtype), param.requires_grad))
    return network


_CACHE: dict[tuple[str, float, str], Model] = {}
_LOCK = threading.Lock()


def load_model(folder: Path, *, device: torch.device = torch.device("cpu"), cache: bool = True) -> Model:
    """Load a model once per process and device; later calls return the same object.

    The cache key includes the checkpoint's modification time, so replaced weights are reloaded.
    With ``cache=False`` a model not cached yet is loaded without being kept: it is freed once the
    caller drops it (a one-image run of a 5-model task then holds one network at a time).
    """
    ckpt = Path(folder) / "fold_0" / CHECKPOINT
    try:
        mtime = ckpt.stat().st_mtime
    except OSError:
        raise WeightsError(f"{ckpt} is missing; re-download or re-import the weights") from None
    key = (str(Path(folder).resolve()), mtime, str(device))
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        model = Model.from_folder(Path(folder), device=device)
        if cache:
            _CACHE[key] = model
        return model


def clear_model_cache() -> None:
    """Forget every loaded model (frees their memory once no caller holds them)."""
    with _LOCK:
        _CACHE.clear()
