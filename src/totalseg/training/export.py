"""The nnU-Net v2 model folder a training writes: ``<trainer>__nnUNetPlans__3d_fullres/`` with
``plans.json``, ``dataset.json`` and ``fold_0/checkpoint_{latest,best,final}.pth``.

Checkpoints hold exactly the keys nnU-Net's trainer saves, with plain values only (tensors, numbers,
strings, lists, dicts, ``torch.device``), so they load with ``torch.load(weights_only=True)`` and
with nnU-Net's own predictor. The trainer name tells nnU-Net which test-time mirroring to use:
``nnUNetTrainerNoMirroring`` (the default, as TotalSegmentator's trainers: left/right classes) or
``nnUNetTrainer`` when trained with mirroring.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from totalseg.io.atomic import atomic_path, atomic_write_text
from totalseg.training.planner import CONFIGURATION, PLANS_NAME
from totalseg.training.progress import TrainingLog


def trainer_name(mirror: bool) -> str:
    return "nnUNetTrainer" if mirror else "nnUNetTrainerNoMirroring"


def model_folder(out_dir: Path, *, mirror: bool) -> Path:
    """``out_dir/<trainer>__nnUNetPlans__3d_fullres``."""
    return Path(out_dir) / f"{trainer_name(mirror)}__{PLANS_NAME}__{CONFIGURATION}"


def write_model_json(folder: Path, plans: dict, dataset_json: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "plans.json", json.dumps(plans, indent=2))
    atomic_write_text(folder / "dataset.json", json.dumps(dataset_json, indent=2))


def checkpoint_state(
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    log: TrainingLog,
    *,
    epoch: int,
    plans: dict,
    dataset_json: dict,
    fold: int,
    mirror: bool,
) -> dict:
    """The checkpoint dictionary in nnU-Net's layout (``current_epoch`` is the next epoch to run)."""
    records = log.records
    return {
        "network_weights": OrderedDict((k, v.detach().cpu()) for k, v in network.state_dict().items()),
        "optimizer_state": optimizer.state_dict(),
        "grad_scaler_state": scaler.state_dict() if scaler is not None else None,
        "logging": {
            "mean_fg_dice": [r.mean_fg_dice for r in records],
            "ema_fg_dice": [r.ema_fg_dice for r in records],
            "dice_per_class_or_region": [r.pseudo_dice for r in records],
            "train_losses": [r.train_loss for r in records],
            "val_losses": [r.val_loss for r in records],
            "lrs": [r.lr for r in records],
        },
        "_best_ema": max((r.ema_fg_dice for r in records), default=None),
        "current_epoch": epoch,
        "init_args": {"plans": plans, "configuration": CONFIGURATION, "fold": fold, "dataset_json": dataset_json,
                      "device": torch.device("cpu")},
        "trainer_name": trainer_name(mirror),
        "inference_allowed_mirroring_axes": (0, 1, 2) if mirror else None,
        "totalseg_log": log.to_state(),
    }


def save_checkpoint(state: dict, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename (an interrupted save keeps the old file)."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
