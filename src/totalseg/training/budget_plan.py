"""The plan of a budgeted run: plan every rung of the ladder, measure it, choose, and say why.

The rungs are measured from the smallest up; once one cannot get the iterations it needs in the budget,
the larger ones (slower, and needing more iterations) cannot either and are not measured. The choice, every
candidate's plan and measured speed, and the reason are logged and written to ``budget.json``
beside ``plans.json``; the end of the run (epochs and iterations done, seconds) is added to it.
On CPU the smallest rung is measured in fp32 and with bf16 autocast first; bf16 is used when it is
at least 10 % faster (CPUs with native bf16 instructions), as AMP is on CUDA; when the thread count
is the run's to choose, one torch thread is tried too and kept when 10 % faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from totalseg.engine.grid import tile_count
from totalseg.measure.files import write_json
from totalseg.training.budget import LADDER, Rung, Schedule, Speed, choose_schedule
from totalseg.training.fingerprint import Fingerprint
from totalseg.training.planner import CONFIGURATION, PlannerOptions, plan_experiment
from totalseg.training.preprocessing import CachedCase
from totalseg.training.speed import measure_speed

# Per validation case of the final validation: reading, preprocessing, export (CPU seconds, generous).
CASE_OVERHEAD_S = 1.5
SAFETY_S = 3.0
CHECKPOINT_S = 1.0  # writing checkpoints and the log after an epoch, before it is measured


@dataclass(frozen=True)
class BudgetChoice:
    """The plans chosen for a budget, its schedule, the candidates and the time kept for the end."""

    plans: dict
    schedule: Schedule
    candidates: list[dict]
    reserve_s: float
    budget_s: float
    train_s: float
    epoch_end_s: float  # expected validation and checkpoint time after each epoch
    cpu_bf16: bool = False
    precision_speeds: dict | None = None  # CPU: the smallest rung's it/s in fp32 and bf16

    def record(self) -> dict:
        return {"budget_s": round(self.budget_s, 1), "train_s": round(self.train_s, 1),
                "reserve_s": round(self.reserve_s, 1), "chosen": self.schedule.to_json(),
                "precision": "bf16" if self.cpu_bf16 else "fp32", "precision_speeds": self.precision_speeds,
                "candidates": self.candidates}

    def summary(self) -> str:
        measured = ", ".join(f"{c['name']} {c['iterations_per_s']:.2f} it/s" for c in self.candidates
                             if c.get("iterations_per_s") is not None)
        s = self.schedule
        conf = self.plans["configurations"][CONFIGURATION]
        feats = conf["architecture"]["arch_kwargs"]["features_per_stage"]
        precision = " (bf16 autocast)" if self.cpu_bf16 else ""
        if self.precision_speeds is not None:
            precision += f" ({self.precision_speeds['threads']} torch threads)"
        return (f"Budget {self.budget_s / 60:.1f} min ({self.train_s:.0f} s to train): measured{precision} {measured}; "
                f"chose {s.rung} (patch {conf['patch_size']}, batch {conf['batch_size']}, features "
                f"{feats[0]}..{feats[-1]}), {s.epochs} epochs x {s.iterations_per_epoch} iterations, "
                f"lr {s.initial_lr}: {s.reason}")


def choose_budget_plan(
    fingerprint: Fingerprint,
    dataset_json: dict,
    name: str,
    planner: PlannerOptions,
    cases: Sequence[CachedCase],
    device: torch.device,
    *,
    budget_s: float,
    deadline: float,
    n_val_cases: int,
    log: Callable[[str], None] = print,
    ladder: Sequence[Rung] = LADDER,
    choose_threads: bool = False,
) -> BudgetChoice:
    """Plan, measure and choose for a run that must end at ``deadline`` (``time.monotonic()``).

    Examples:
        >>> choice = choose_budget_plan(fp, dataset_json, "D", PlannerOptions(config="3mm"), cases,
        ...                             torch.device("cpu"), budget_s=480, deadline=time.monotonic() + 470,
        ...                             n_val_cases=5)  # doctest: +SKIP
        >>> choice.schedule.rung  # doctest: +SKIP
        'small'
    """
    full = plan_experiment(fingerprint, dataset_json, options=planner, name=name)
    full_patch_xyz = full["configurations"][CONFIGURATION]["patch_size"][::-1]
    seconds = min(4.0, max(1.0, 0.02 * budget_s))
    rung_plans = {r.name: full if r.base_features is None else plan_experiment(
        fingerprint, dataset_json, options=r.planner_options(planner, full_patch_xyz), name=name) for r in ladder}
    bf16, precision_speeds, speeds = _cpu_settings(rung_plans[ladder[-1].name], ladder[-1].name, dataset_json,
                                                   cases, device, seconds, choose_threads)
    plans, candidates, stop = {}, [], None
    for rung in reversed(ladder):  # smallest first
        entry = _describe(rung, rung_plans[rung.name])
        if stop is not None:
            candidates.append({**entry, "iterations_per_s": None, "skipped": stop})
            continue
        plans[rung.name] = rung_plans[rung.name]
        if rung.name not in speeds:
            speeds[rung.name] = measure_speed(plans[rung.name], dataset_json, cases, device, seconds=seconds,
                                              bf16=bf16)
        alone = choose_schedule({rung.name: speeds[rung.name]}, _train_seconds(deadline, plans, speeds, n_val_cases),
                                ladder=[rung])
        candidates.append({**entry, "iterations_per_s": round(speeds[rung.name].iterations_per_s, 3),
                           "val_batch_s": round(speeds[rung.name].val_batch_s, 4),
                           "affordable_iterations": alone.planned_iterations})
        log(f"Measured {rung.name}: {speeds[rung.name].iterations_per_s:.2f} it/s, {alone.planned_iterations} "
            f"iterations affordable, {rung.iterations_needed} needed")
        if alone.planned_iterations < rung.iterations_needed:
            stop = f"not measured: {rung.name} already cannot get the iterations it needs, and larger plans are slower"
    train_s = _train_seconds(deadline, plans, speeds, n_val_cases)
    schedule = choose_schedule(speeds, train_s, ladder=ladder)
    chosen = plans[schedule.rung]
    speed = speeds[schedule.rung]
    reserve = _reserve_s(chosen, speed, n_val_cases)
    epoch_end = schedule.val_iterations * speed.val_batch_s + CHECKPOINT_S
    return BudgetChoice(chosen, schedule, candidates[::-1], reserve, budget_s, train_s[schedule.rung], epoch_end,
                        bf16, precision_speeds)


def _cpu_settings(plans: dict, name: str, dataset_json: dict, cases: Sequence[CachedCase], device: torch.device,
                  seconds: float, choose_threads: bool) -> tuple[bool, dict | None, dict[str, Speed]]:
    """On CPU: bf16 autocast when it trains the smallest rung at least 10 % faster than fp32; with
    ``choose_threads``, one torch thread instead of several when that is 10 % faster too (cores that
    other processes keep busy slow torch's threads down, waiting for each other); the run keeps it."""
    fp32 = measure_speed(plans, dataset_json, cases, device, seconds=seconds)
    if device.type != "cpu":
        return False, None, {name: fp32}
    bf16 = measure_speed(plans, dataset_json, cases, device, seconds=seconds, bf16=True)
    use_bf16 = bf16.iterations_per_s >= 1.1 * fp32.iterations_per_s
    best, threads = (bf16 if use_bf16 else fp32), torch.get_num_threads()
    measured = {"fp32": round(fp32.iterations_per_s, 3), "bf16": round(bf16.iterations_per_s, 3), "threads": threads}
    if choose_threads and threads > 1:
        torch.set_num_threads(1)
        one = measure_speed(plans, dataset_json, cases, device, seconds=seconds, bf16=use_bf16)
        measured["one_thread"] = round(one.iterations_per_s, 3)
        if one.iterations_per_s >= 1.1 * best.iterations_per_s:
            best, measured["threads"] = one, 1
        else:
            torch.set_num_threads(threads)
    return use_bf16, measured, {name: best}


def write_budget(folder: Path, record: dict) -> None:
    """``budget.json`` beside ``plans.json`` (replaced atomically)."""
    write_json(record, folder / "budget.json", indent=2)


def _describe(rung: Rung, plans: dict) -> dict:
    conf = plans["configurations"][CONFIGURATION]
    arch = conf["architecture"]["arch_kwargs"]
    return {"name": rung.name, "patch_size": conf["patch_size"], "batch_size": conf["batch_size"],
            "n_stages": arch["n_stages"], "features_per_stage": arch["features_per_stage"],
            "iterations_needed": rung.iterations_needed}


def _reserve_s(plans: dict, speed: Speed, n_val_cases: int) -> float:
    """Time kept for the final checkpoint and the final validation (sliding window on each case)."""
    conf = plans["configurations"][CONFIGURATION]
    per_tile = speed.val_batch_s / conf["batch_size"]
    tiles = tile_count(tuple(conf["median_image_size_in_voxels"]), tuple(conf["patch_size"]), 0.5)
    return n_val_cases * (tiles * per_tile + CASE_OVERHEAD_S) + SAFETY_S


def _train_seconds(deadline: float, plans: dict, speeds: dict, n_val_cases: int) -> dict[str, float]:
    now = time.monotonic()
    return {name: deadline - now - _reserve_s(plans[name], speeds[name], n_val_cases) for name in speeds}
