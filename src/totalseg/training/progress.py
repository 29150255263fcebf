"""The training log: one row per epoch (losses, pseudo Dice, its moving average, learning rate,
duration), written as CSV and JSON after every epoch, and a plot of the curves (``progress.png``)."""

from __future__ import annotations

import csv
import io
import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from totalseg.io.atomic import atomic_path, atomic_write_text

EMA_WEIGHT = 0.9


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    pseudo_dice: list[float]  # per foreground class, on validation patches (NaN where absent)
    mean_fg_dice: float
    ema_fg_dice: float
    lr: float
    seconds: float
    iterations: int
    train_seconds: float = float("nan")  # the training iterations alone (no validation, no checkpoint)
    peak_gpu_memory_gb: float | None = None  # torch's peak allocation on a CUDA device in this epoch


@dataclass
class TrainingLog:
    """Epoch records of one run; saved with each checkpoint so a resumed run continues its curves."""

    records: list[EpochRecord] = field(default_factory=list)

    def next_ema(self, mean_fg_dice: float) -> float:
        """nnU-Net's moving average of the validation pseudo Dice."""
        if not self.records:
            return mean_fg_dice
        return EMA_WEIGHT * self.records[-1].ema_fg_dice + (1 - EMA_WEIGHT) * mean_fg_dice

    def is_best(self, record: EpochRecord) -> bool:
        """Whether ``record`` beats every logged epoch's moving-average pseudo Dice (nnU-Net's rule
        for ``checkpoint_best.pth``; ties keep the earlier epoch)."""
        return record.ema_fg_dice > max((r.ema_fg_dice for r in self.records), default=-1.0)

    def best_epoch(self) -> int | None:
        """The epoch ``checkpoint_best.pth`` holds: the first with the highest moving average."""
        if not self.records:
            return None
        return max(self.records, key=lambda r: (r.ema_fg_dice, -r.epoch)).epoch

    def to_state(self) -> list[dict]:
        return [asdict(r) for r in self.records]

    @classmethod
    def from_state(cls, state: list[dict]) -> TrainingLog:
        return cls([EpochRecord(**r) for r in state])

    def write(self, folder: Path) -> None:
        """``training_log.csv``, ``training_log.json`` and ``progress.png`` (the latter needs matplotlib)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["epoch", "train_loss", "val_loss", "mean_fg_dice", "ema_fg_dice", "lr", "seconds",
                         "iterations", "train_seconds", "peak_gpu_memory_gb"])
        for r in self.records:
            peak = "" if r.peak_gpu_memory_gb is None else f"{r.peak_gpu_memory_gb:.3f}"
            writer.writerow([r.epoch, f"{r.train_loss:.5f}", f"{r.val_loss:.5f}", f"{r.mean_fg_dice:.5f}",
                             f"{r.ema_fg_dice:.5f}", f"{r.lr:.6g}", f"{r.seconds:.2f}", r.iterations,
                             f"{r.train_seconds:.2f}", peak])
        atomic_write_text(folder / "training_log.csv", buffer.getvalue())
        atomic_write_text(folder / "training_log.json", json.dumps(self.to_state(), indent=1))
        self.plot(folder / "progress.png")

    def plot(self, path: Path) -> bool:
        """Loss and Dice curves; returns False (with a warning) when matplotlib is not installed."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            from matplotlib.figure import Figure
        except ImportError:
            warnings.warn("the training curve plot needs matplotlib: pip install 'totalseg[train]'", stacklevel=2)
            return False
        epochs = [r.epoch for r in self.records]
        fig = Figure(figsize=(9, 6))
        ax_loss, ax_lr = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        ax_loss.plot(epochs, [r.train_loss for r in self.records], color="tab:blue", label="train loss")
        ax_loss.plot(epochs, [r.val_loss for r in self.records], color="tab:red", label="val loss")
        ax_loss.set_ylabel("loss")
        ax_dice = ax_loss.twinx()
        ax_dice.plot(epochs, [r.mean_fg_dice for r in self.records], ":", color="tab:green", label="pseudo dice")
        ax_dice.plot(epochs, [r.ema_fg_dice for r in self.records], color="tab:green", label="pseudo dice (EMA)")
        ax_dice.set_ylabel("dice")
        ax_dice.set_ylim(0, 1)
        handles = ax_loss.get_legend_handles_labels()[0] + ax_dice.get_legend_handles_labels()[0]
        ax_loss.legend(handles=handles, loc="center right")
        ax_lr.plot(epochs, [r.lr for r in self.records], color="black")
        ax_lr.set_ylabel("learning rate")
        ax_lr.set_xlabel("epoch")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=80, format="png")
        return True
