"""Fitting a training run to a time budget: which plan, how many iterations, when to stop.

``totalseg train --max-minutes M`` measures the training speed of a ladder of plans (nnU-Net's
full plan and smaller ones, see :data:`LADDER`) on the device, then :func:`choose_schedule` picks
the largest plan that can run the iterations it needs within the budget, or the one
closest to converging when none can; the run uses every iteration the budget allows (up to
nnU-Net's 1000 epochs of 250). The run itself goes on, epoch after epoch of the chosen length, until
:class:`Deadline` stops it after the iteration that would otherwise leave too little time for the
epoch's validation, the checkpoints and the final validation; the deadline also gives the poly
learning rate its progress (time, or iterations of nnU-Net's 1000 x 250, whichever is further), so
the rate reaches zero at the deadline whether the machine turns out slower or faster than measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace

from totalseg.errors import InputError
from totalseg.training.planner import PlannerOptions

NNUNET_EPOCHS = 1000
NNUNET_ITERATIONS = 250
# nnU-Net validates 50 batches per 250 training iterations; the schedule keeps that ratio.
VAL_FRACTION = 0.2
MIN_EPOCHS = 10
MAX_SHORT_EPOCHS = 20


@dataclass(frozen=True)
class Rung:
    """One plan of the ladder: the planner's features and patch scaled down, the iterations it needs.

    ``base_features``/``max_features`` of ``None`` keep the planner's (32..320); ``patch_scale``
    shrinks the planned patch per axis (the planner rounds it to what the network's pooling needs);
    ``iterations_needed`` is how many iterations the plan needs to pay off: nnU-Net's recipe (1000 x
    250) for the full plan; for a smaller plan, the iterations after which it beats the next smaller
    plan trained for all the iterations the same time gives it (measured on the phantom sets,
    docs/training.md).
    """

    name: str
    base_features: int | None
    max_features: int | None
    patch_scale: float
    batch_size: int | None
    iterations_needed: int
    initial_lr: float

    def planner_options(self, base: PlannerOptions, full_patch_xyz: Sequence[int]) -> PlannerOptions:
        """``base`` (spacing, memory budget) with this rung's features, patch and batch.

        Examples:
            >>> LADDER[2].planner_options(PlannerOptions(config="3mm"), (48, 48, 48)).patch_size
            (32, 32, 32)
        """
        if self.base_features is None:
            return base
        patch = tuple(max(8, round(p * self.patch_scale)) for p in full_patch_xyz)
        return replace(base, base_features=self.base_features, max_features=self.max_features,
                       patch_size=patch, batch_size=self.batch_size)


LADDER: tuple[Rung, ...] = (
    Rung("nnunet", None, None, 1.0, None, NNUNET_EPOCHS * NNUNET_ITERATIONS, 1e-2),
    Rung("wide", 16, 128, 1.0, 2, 5_000, 1e-2),
    Rung("small", 16, 64, 0.67, 2, 600, 3e-2),
    Rung("tiny", 8, 32, 0.5, 2, 300, 3e-2),
)


@dataclass(frozen=True)
class Speed:
    """A plan's measured speed: training iterations per second and seconds per validation batch."""

    iterations_per_s: float
    val_batch_s: float


@dataclass(frozen=True)
class Schedule:
    """What a budgeted run does: the rung, epochs, iterations and learning rate, and why."""

    rung: str
    epochs: int
    iterations_per_epoch: int
    val_iterations: int
    initial_lr: float
    planned_iterations: int
    reason: str

    def to_json(self) -> dict:
        return asdict(self)


def choose_schedule(speeds: Mapping[str, Speed], train_seconds: Mapping[str, float], *,
                    ladder: Sequence[Rung] = LADDER) -> Schedule:
    """The largest rung that can run the iterations it needs in its training time, else the one closest to it.

    ``train_seconds[name]`` is the time a rung has to train (the budget left minus the time its final
    validation takes). A rung's affordable iterations are that time over the time of one iteration
    plus its share of validation (``VAL_FRACTION`` validation batches per training iteration). The
    rung chosen runs all of them, capped at nnU-Net's 1000 x 250. Epochs are nnU-Net's 250 iterations
    once that leaves at least ``MIN_EPOCHS`` of them; shorter runs are cut into up to
    ``MAX_SHORT_EPOCHS`` epochs (at least 25 iterations each), so the pseudo Dice is still measured
    often enough to choose the best checkpoint.

    Examples:
        >>> speeds = {"nnunet": Speed(0.1, 3.0), "wide": Speed(1.0, 0.3),
        ...           "small": Speed(4.0, 0.08), "tiny": Speed(8.0, 0.04)}
        >>> s = choose_schedule(speeds, dict.fromkeys(speeds, 800.0))  # wide 754 < 5000, small 3007 >= 600
        >>> s.rung, s.epochs, s.iterations_per_epoch, s.val_iterations
        ('small', 12, 250, 50)
        >>> s = choose_schedule(speeds, dict.fromkeys(speeds, 120.0))  # small 451 < 600, tiny 902 >= 300
        >>> s.rung, s.epochs, s.iterations_per_epoch, s.val_iterations
        ('tiny', 20, 45, 9)
    """
    measured = [r for r in ladder if r.name in speeds]
    if not measured:
        raise InputError("no plan could be measured on this device")
    affordable = {r.name: _affordable(speeds[r.name], train_seconds[r.name]) for r in measured}
    fits = [r for r in measured if affordable[r.name] >= r.iterations_needed]
    if fits:
        rung = fits[0]
        why = (f"the largest plan that gets the iterations it needs in the budget "
               f"({affordable[rung.name]} iterations affordable, {rung.iterations_needed} needed)")
    else:
        rung = max(measured, key=lambda r: affordable[r.name] / r.iterations_needed)
        why = (f"no plan gets the iterations it needs in the budget; this one comes closest "
               f"({affordable[rung.name]} of {rung.iterations_needed} iterations needed)")
    total = max(1, min(affordable[rung.name], NNUNET_EPOCHS * NNUNET_ITERATIONS))
    epochs, per_epoch = _epochs(total)
    val = max(1, round(per_epoch * VAL_FRACTION))
    return Schedule(rung.name, epochs, per_epoch, val, rung.initial_lr, epochs * per_epoch, why)


def _affordable(speed: Speed, seconds: float) -> int:
    if seconds <= 0:
        return 0
    per_iteration = 1 / speed.iterations_per_s + VAL_FRACTION * speed.val_batch_s
    return int(seconds / per_iteration)


def _epochs(total: int) -> tuple[int, int]:
    if total >= MIN_EPOCHS * NNUNET_ITERATIONS:
        return min(total // NNUNET_ITERATIONS, NNUNET_EPOCHS), NNUNET_ITERATIONS
    epochs = max(1, min(MAX_SHORT_EPOCHS, total // 25))
    return epochs, max(1, total // epochs)


@dataclass
class Deadline:
    """Per-iteration stopping and learning-rate progress for a run that must end by ``end`` (seconds
    on a monotonic clock), keeping ``reserve_s`` for the final checkpoint and validation.

    Examples:
        >>> d = Deadline(start=0.0, end=100.0, reserve_s=10.0, planned_iterations=1000)
        >>> d.stop_now(now=50.0, epoch_end_s=5.0), d.stop_now(now=86.0, epoch_end_s=5.0)
        (False, True)
        >>> round(d.progress(now=45.0, iterations=100), 2)  # time runs ahead of iterations
        0.5
    """

    start: float
    end: float
    reserve_s: float
    planned_iterations: int

    @property
    def train_end(self) -> float:
        return self.end - self.reserve_s

    def stop_now(self, *, now: float, epoch_end_s: float) -> bool:
        """True when another iteration would leave too little time to close the epoch."""
        return now + epoch_end_s >= self.train_end

    def progress(self, *, now: float, iterations: int, epoch_end_s: float = 0.0) -> float:
        """Fraction of the run done, 0..1: iterations or time (until the last epoch must close),
        whichever is further."""
        span = max(self.train_end - epoch_end_s - self.start, 1e-9)
        by_time = (now - self.start) / span
        by_iterations = iterations / max(self.planned_iterations, 1)
        return min(1.0, max(by_time, by_iterations, 0.0))


def poly_lr(initial_lr: float, progress: float) -> float:
    """nnU-Net's poly schedule ``lr0 * (1 - progress) ** 0.9``.

    Examples:
        >>> poly_lr(0.01, 0.0), round(poly_lr(0.01, 0.5), 5), poly_lr(0.01, 1.0)
        (0.01, 0.00536, 0.0)
    """
    return initial_lr * (1 - min(max(progress, 0.0), 1.0)) ** 0.9

