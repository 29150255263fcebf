"""Fitting a run to ``--max-minutes``: the plan chooser on given speeds (pure), the deadline and
learning-rate progress, the best checkpoint, and a tiny budgeted run that stops on time with a
usable, self-describing model folder."""

from __future__ import annotations

import json
import math
import time

import pytest
import torch

from totalseg.cli import main
from totalseg.models.checkpoint import load_checkpoint
from totalseg.training.budget import (
    LADDER,
    NNUNET_EPOCHS,
    NNUNET_ITERATIONS,
    Deadline,
    Rung,
    Speed,
    choose_schedule,
    poly_lr,
)
from totalseg.training.phantom import write_phantom_dataset
from totalseg.training.planner import PlannerOptions
from totalseg.training.progress import EpochRecord, TrainingLog

SPEEDS = {"nnunet": Speed(0.5, 0.6), "wide": Speed(2.0, 0.15), "small": Speed(6.0, 0.05), "tiny": Speed(12.0, 0.02)}


def seconds(value: float) -> dict[str, float]:
    return dict.fromkeys(SPEEDS, value)


def test_a_fast_device_and_a_long_budget_get_nnunets_full_recipe():
    fast = {name: Speed(s.iterations_per_s * 100, s.val_batch_s / 100) for name, s in SPEEDS.items()}
    schedule = choose_schedule(fast, seconds(10 * 3600))  # nnunet at 50 it/s: 1.7M iterations affordable
    assert schedule.rung == "nnunet" and schedule.initial_lr == 0.01
    assert (schedule.epochs, schedule.iterations_per_epoch) == (NNUNET_EPOCHS, NNUNET_ITERATIONS)
    assert schedule.val_iterations == 50 and "largest plan that gets the iterations" in schedule.reason


def test_the_largest_plan_that_gets_its_iterations_is_chosen_and_uses_the_whole_budget():
    # an iteration of wide costs 1 / 2 + 0.2 * 0.15 = 0.53 s: 20,377 in 3 h >= the 5,000 it needs
    schedule = choose_schedule(SPEEDS, seconds(3 * 3600))
    assert schedule.rung == "wide"
    assert schedule.iterations_per_epoch == 250 and schedule.epochs == 20_377 // 250
    schedule = choose_schedule(SPEEDS, seconds(1800))  # wide 3396 < 5,000; small 10,188 >= 600
    assert schedule.rung == "small" and schedule.planned_iterations == 40 * 250


def test_when_no_plan_gets_its_iterations_the_closest_runs_short_epochs():
    schedule = choose_schedule(SPEEDS, seconds(60))  # small 339 < 600; tiny 687 >= 300: 20 short epochs
    assert schedule.rung == "tiny" and "largest plan that gets" in schedule.reason
    assert schedule.epochs == 20 and schedule.iterations_per_epoch == 34 and schedule.val_iterations == 7
    schedule = choose_schedule(SPEEDS, seconds(20))  # tiny 229 of 300 (76 %); small 113 of 600 (19 %)
    assert schedule.rung == "tiny" and "no plan gets the iterations it needs" in schedule.reason
    assert (schedule.epochs, schedule.iterations_per_epoch, schedule.val_iterations) == (9, 25, 5)
    tiny = choose_schedule(SPEEDS, seconds(2))  # 22 iterations: one epoch
    assert tiny.epochs == 1 and tiny.planned_iterations == 22


def test_each_plan_gets_its_own_training_time():
    times = {**seconds(700), "small": 100.0}  # small's final validation would eat its budget
    assert choose_schedule(SPEEDS, times).rung == "tiny"
    assert choose_schedule(SPEEDS, {**seconds(700), "small": 0.0}).rung == "tiny"


def test_only_measured_rungs_compete_and_a_custom_ladder_is_honoured():
    assert choose_schedule({"small": SPEEDS["small"]}, seconds(60)).rung == "small"
    ladder = [Rung("big", 32, 64, 1.0, 2, 100, 0.02), Rung("little", 8, 16, 0.5, 2, 50, 0.05)]
    schedule = choose_schedule({"big": Speed(1.0, 0.1), "little": Speed(10.0, 0.01)},
                               {"big": 200.0, "little": 200.0}, ladder=ladder)
    assert schedule.rung == "big" and schedule.initial_lr == 0.02
    with pytest.raises(Exception, match="no plan could be measured"):
        choose_schedule({}, {}, ladder=ladder)


def test_rungs_are_valid_planner_options_from_large_to_small():
    base = PlannerOptions(config="3mm", memory_gb=4.0)
    assert LADDER[0].planner_options(base, (96, 96, 96)) == base  # nnU-Net's plan untouched
    small = LADDER[2].planner_options(base, (96, 96, 96))
    assert (small.base_features, small.max_features, small.patch_size, small.batch_size) == (16, 64, (64, 64, 64), 2)
    assert small.config == "3mm" and small.memory_gb == 4.0
    needs = [r.iterations_needed for r in LADDER]
    assert needs == sorted(needs, reverse=True)


def test_deadline_stops_per_iteration_and_keeps_the_reserve():
    d = Deadline(start=100.0, end=200.0, reserve_s=20.0, planned_iterations=400)
    assert d.train_end == 180.0
    assert not d.stop_now(now=170.0, epoch_end_s=9.0) and d.stop_now(now=171.0, epoch_end_s=9.0)
    assert d.progress(now=140.0, iterations=100) == pytest.approx(0.5)  # time ahead of iterations
    assert d.progress(now=110.0, iterations=300) == pytest.approx(0.75)  # iterations ahead of time
    assert d.progress(now=500.0, iterations=0) == 1.0
    assert d.progress(now=140.0, iterations=0, epoch_end_s=40.0) == 1.0  # the last epoch must close now
    assert poly_lr(0.03, d.progress(now=180.0, iterations=0)) == 0.0


def record(epoch: int, ema: float) -> EpochRecord:
    return EpochRecord(epoch, 0.0, 0.0, [ema], ema, ema, 0.01, 1.0, 10)


def test_best_checkpoint_rule_is_the_first_highest_moving_average():
    log = TrainingLog()
    assert log.best_epoch() is None and log.is_best(record(0, 0.0))
    for epoch, ema in enumerate([0.2, 0.5, 0.4, 0.5, 0.3]):
        log.records.append(record(epoch, ema))
    assert log.best_epoch() == 1
    assert not log.is_best(record(5, 0.5)) and log.is_best(record(5, 0.51))


@pytest.fixture(scope="module")
def small_phantoms(tmp_path_factory):
    return write_phantom_dataset(tmp_path_factory.mktemp("budget") / "Dataset900_Phantom", n_train=6, n_test=1,
                                 shape=(16, 16, 16), organs=("lung", "bone"), seed=2)


def test_a_budgeted_run_stops_on_time_with_a_usable_self_describing_folder(small_phantoms, tmp_path, one_thread,
                                                                        capsys):
    out = tmp_path / "model"
    budget_s = 12.0
    started = time.monotonic()
    rc = main(["train", str(small_phantoms), "--out", str(out), "--config", "6mm", "--max-minutes", str(budget_s / 60),
               "-d", "cpu", "--loader-threads", "0", "-q"])
    elapsed = time.monotonic() - started
    assert rc == 0 and elapsed <= budget_s + 4.0, elapsed  # a little slack: the test machine's cores are shared
    folder = out / "nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres"
    assert "iterations, plan " in capsys.readouterr().out
    budget = json.loads((folder / "budget.json").read_text())
    plans = json.loads((folder / "plans.json").read_text())
    chosen = budget["chosen"]
    candidate = next(c for c in budget["candidates"] if c["name"] == chosen["rung"])
    conf = plans["configurations"]["3d_fullres"]
    assert candidate["patch_size"] == conf["patch_size"] and candidate["batch_size"] == conf["batch_size"]
    assert candidate["features_per_stage"] == conf["architecture"]["arch_kwargs"]["features_per_stage"]
    assert [c["name"] for c in budget["candidates"]] == [r.name for r in LADDER]
    assert candidate["iterations_per_s"] > 0 and chosen["reason"]
    assert all(c["iterations_per_s"] or c["skipped"] for c in budget["candidates"])
    speeds = budget["precision_speeds"]  # CPU: fp32 and bf16 autocast measured, the faster by 10 % used
    assert budget["precision"] == ("bf16" if speeds["bf16"] >= 1.1 * speeds["fp32"] else "fp32")
    assert speeds["threads"] == 1 and "one_thread" not in speeds  # one thread already: nothing to try
    done = budget["done"]
    log = json.loads((folder / "fold_0" / "training_log.json").read_text())
    assert done["epochs"] == len(log) >= 1 and done["iterations"] == sum(r["iterations"] for r in log)
    assert done["seconds"] <= budget_s + 3.0 and done["validation_mean_dice"] is not None

    final = load_checkpoint(folder / "fold_0" / "checkpoint_final.pth")
    best = load_checkpoint(folder / "fold_0" / "checkpoint_best.pth")
    assert final["current_epoch"] == len(log) and best["current_epoch"] == done["best_epoch"] + 1
    emas = [r["ema_fg_dice"] for r in log]
    assert best["_best_ema"] == pytest.approx(max(emas[: best["current_epoch"]]))
    pred = tmp_path / "pred.nii.gz"
    image = next((small_phantoms / "imagesTs").glob("*_0000.nii.gz"))
    assert main(["segment", "-i", str(image), "-o", str(pred), "--ml", "--model-dir", str(out), "-d", "cpu",
                 "-q"]) == 0 and pred.is_file()


def test_explicit_settings_keep_the_plan_and_only_stop_at_the_deadline(small_phantoms, tmp_path, one_thread):
    out = tmp_path / "model"
    assert main(["train", str(small_phantoms), "--out", str(out), "--config", "6mm", "--max-minutes", "0.00001",
                 "--epochs", "3", "--iterations", "5", "--features", "4", "--max-features", "8", "-d", "cpu",
                 "--loader-threads", "0", "--no-validation", "-q"]) == 0
    folder = out / "nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres"
    assert not (folder / "budget.json").exists()
    log = json.loads((folder / "fold_0" / "training_log.json").read_text())
    # 0.6 ms: over before the first iteration (60 ms was not always: a warm process reached its end in 50-80 ms)
    assert len(log) == 1 and log[0]["iterations"] == 1  # one iteration, then the deadline
    assert (folder / "fold_0" / "checkpoint_final.pth").is_file()


def test_an_interrupted_run_leaves_a_loadable_final_checkpoint(small_phantoms, tmp_path, one_thread, monkeypatch):
    from totalseg.training import trainer
    from totalseg.training.trainer import TrainOptions, train

    step, calls = trainer._Run._step, []

    def interrupted(self, image, seg):
        calls.append(1)
        if len(calls) == 7:  # in the second epoch
            raise KeyboardInterrupt
        return step(self, image, seg)

    monkeypatch.setattr(trainer._Run, "_step", interrupted)
    planner = PlannerOptions(config="6mm", base_features=4, max_features=8, batch_size=2)
    options = TrainOptions(epochs=3, iterations_per_epoch=5, val_iterations=1, loader_threads=0,
                           final_validation=False)
    with pytest.raises(KeyboardInterrupt):
        train(small_phantoms, tmp_path, planner=planner, options=options, device="cpu", quiet=True, log=lambda _: None)
    fold = tmp_path / "nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres" / "fold_0"
    assert load_checkpoint(fold / "checkpoint_final.pth")["current_epoch"] == 1
    assert {p.name for p in fold.iterdir()} == {  # no temporary files left
        "checkpoint_best.pth", "checkpoint_final.pth", "checkpoint_latest.pth", "training_log.csv",
        "training_log.json", "progress.png"}


def test_bf16_autocast_on_cpu_trains_and_saves_fp32_weights(small_phantoms, tmp_path, one_thread):
    from totalseg.training.trainer import TrainOptions, train

    planner = PlannerOptions(config="6mm", base_features=4, max_features=8, batch_size=2)
    options = TrainOptions(epochs=2, iterations_per_epoch=3, val_iterations=1, loader_threads=0,
                           final_validation=False, cpu_bf16=True)
    result = train(small_phantoms, tmp_path, planner=planner, options=options, device="cpu", quiet=True,
                   log=lambda _: None)
    state = load_checkpoint(result.model_dir / "fold_0" / "checkpoint_final.pth")
    assert {v.dtype for v in state["network_weights"].values()} == {torch.float32}
    log = json.loads((result.model_dir / "fold_0" / "training_log.json").read_text())
    assert len(log) == 2 and all(math.isfinite(r["train_loss"]) and math.isfinite(r["val_loss"]) for r in log)
