"""A loaded model: configuration plus network with its weights (one or more folds), cached once per process."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
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
    """An nnU-Net v2 model ready for inference on ``device``.

    ``network`` holds the first fold's weights. A model of several folds also keeps each fold's
    weights (``fold_weights``, in nnU-Net's order): :meth:`each_fold` loads them in turn, and
    their logits are averaged, as nnU-Net's predictor does.
    """

    folder: Path
    config: ModelConfig
    network: nn.Module
    device: torch.device
    fold_weights: tuple[dict[str, torch.Tensor], ...] = ()

    @property
    def num_folds(self) -> int:
        return max(1, len(self.fold_weights))

    def each_fold(self) -> Iterator[nn.Module]:
        """The network with each fold's weights loaded in turn (the network itself for one fold)."""
        if not self.fold_weights:
            yield self.network
            return
        for weights in self.fold_weights:
            self.network.load_state_dict(weights)
            yield self.network

    @classmethod
    def from_folder(cls, folder: Path, *, device: torch.device = torch.device("cpu"),
                    folds: Sequence[str] | None = ("0",)) -> Model:
        """Load ``folder`` (plans.json, dataset.json, ``fold_<f>/checkpoint_final.pth``).

        ``folds=None`` takes every fold present, as ``nnUNetv2_predict`` does without ``-f``. The
        configuration is the one the first checkpoint was trained with (nnU-Net reads it there).
        """
        folder = Path(folder)
        paths = [folder / f"fold_{f}" / CHECKPOINT for f in (available_folds(folder) if folds is None else folds)]
        checkpoints = [load_checkpoint(path) for path in paths]
        config = ModelConfig.from_folder(folder, _trained_configuration(checkpoints[0], folder))
        network = _network_to_load(config)
        for path, checkpoint in reversed(list(zip(paths, checkpoints))):  # every fold must fit; the first stays
            load_weights(network, checkpoint["network_weights"], source=str(path))
        weights = tuple(c["network_weights"] for c in checkpoints) if len(paths) > 1 else ()
        return cls(folder, config, network.to(device).eval(), device, weights)


def available_folds(folder: Path) -> list[str]:
    """The folds nnU-Net's predictor finds on its own: ``fold_<n>`` folders (not ``fold_all``) that
    hold a final checkpoint, in the order of their sorted names.

    Examples:
        >>> available_folds(Path("/nonexistent"))  # doctest: +SKIP
        []
    """
    names = sorted(p.name for p in Path(folder).glob("fold_*") if p.is_dir() and p.name != "fold_all")
    folds = [name.split("_")[-1] for name in names if (Path(folder) / name / CHECKPOINT).is_file()]
    if not folds:
        raise WeightsError(f"{folder}: no fold_<n>/{CHECKPOINT} found; a model folder holds at least fold_0/")
    return folds


def _trained_configuration(checkpoint: dict, folder: Path) -> str | None:
    """The configuration name in the checkpoint's ``init_args``, when it names one."""
    init_args = checkpoint.get("init_args")
    name = init_args.get("configuration") if isinstance(init_args, dict) else None
    return name if isinstance(name, str) else None


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


_CACHE: dict[tuple, Model] = {}
_LOCK = threading.Lock()


def load_model(folder: Path, *, device: torch.device = torch.device("cpu"), folds: Sequence[str] | None = ("0",),
               cache: bool = True) -> Model:
    """Load a model once per process, device and set of folds; later calls return the same object.

    ``folds=None`` takes every fold present. The cache key includes the checkpoints' modification
    times, so replaced weights are reloaded. With ``cache=False`` a model not cached yet is loaded
    without being kept: it is freed once the caller drops it (a one-image run of a 5-model task
    then holds one network at a time).
    """
    folds = tuple(available_folds(Path(folder)) if folds is None else folds)
    mtimes = []
    for fold in folds:
        ckpt = Path(folder) / f"fold_{fold}" / CHECKPOINT
        try:
            mtimes.append(ckpt.stat().st_mtime)
        except OSError:
            raise WeightsError(f"{ckpt} is missing; re-download or re-import the weights") from None
    key = (str(Path(folder).resolve()), folds, tuple(mtimes), str(device))
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        model = Model.from_folder(Path(folder), device=device, folds=folds)
        if cache:
            _CACHE[key] = model
        return model


def clear_model_cache() -> None:
    """Forget every loaded model (frees their memory once no caller holds them)."""
    with _LOCK:
        _CACHE.clear()
