"""The training loop: nnU-Net v2's recipe on our network, data and preprocessing.

SGD (Nesterov, momentum 0.99, weight decay 3e-5) with the poly learning rate
``lr0 * (1 - epoch / epochs) ** 0.9``, Dice + CE with deep supervision, gradient clipping at 12, AMP
(fp16 autocast and a gradient scaler) on CUDA (bf16 autocast on CPU with ``cpu_bf16``), a pseudo
Dice on fixed validation patches after every epoch and its moving average choosing
``checkpoint_best.pth``. ``checkpoint_latest.pth`` is written
after every epoch and a run resumes from it; ``checkpoint_final.pth`` is written when the epochs are
done or the time budget runs out. The validation cases are then segmented with the inference
pipeline and scored with ``totalseg.evaluation`` (``fold_0/validation/summary.json``).

With a time budget (``max_minutes``) the run stops after the iteration that would leave too little
time for the epoch's validation, its checkpoints and the final validation (``budget.Deadline``);
with ``fit_budget`` the plan, epochs and iterations are chosen for the budget first
(``budget_plan``) and the poly learning rate follows the run's progress in iterations or time.
Inference (ours and nnU-Net's predictor) loads ``checkpoint_final.pth``, as nnU-Net does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from dynamic_network_architectures.initialization.weight_init import InitWeights_He
from tqdm import tqdm

from totalseg.engine.devices import device_from_name
from totalseg.errors import InputError
from totalseg.models.checkpoint import load_checkpoint
from totalseg.models.network import build_network, load_weights
from totalseg.models.plans import ModelConfig
from totalseg.training.augment import default_augmentation, no_augmentation
from totalseg.training.budget import NNUNET_EPOCHS, NNUNET_ITERATIONS, Deadline, poly_lr
from totalseg.training.budget_plan import BudgetChoice, choose_budget_plan, write_budget
from totalseg.training.export import checkpoint_state, model_folder, save_checkpoint, write_model_json
from totalseg.training.fingerprint import Fingerprint, compute_fingerprint
from totalseg.training.loader import PatchLoader
from totalseg.training.loss import outputs_and_loss
from totalseg.training.planner import CONFIGURATION, PlannerOptions, Topology, estimate_memory_gb, plan_experiment
from totalseg.training.preprocessing import preprocess_dataset
from totalseg.training.progress import EpochRecord, TrainingLog
from totalseg.training.raw import RawDataset

GRAD_CLIP = 12.0
MAX_ITERATIONS = NNUNET_EPOCHS * NNUNET_ITERATIONS  # a budgeted run's cap: nnU-Net's recipe


@dataclass(frozen=True)
class TrainOptions:
    """How long and how to train (nnU-Net's defaults)."""

    epochs: int = 1000
    iterations_per_epoch: int = 250
    val_iterations: int = 50
    max_minutes: float | None = None
    initial_lr: float = 1e-2
    weight_decay: float = 3e-5
    mirror: bool = False
    fold: int = 0
    seed: int = 0
    loader_threads: int = 1
    final_validation: bool = True
    fit_budget: bool = False  # with max_minutes: choose plan, epochs and iterations for the budget
    cpu_bf16: bool = False  # bf16 autocast on CPU (the CPU counterpart of AMP on CUDA)
    choose_threads: bool = False  # fit_budget on CPU: measure one torch thread too, keep the faster

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.iterations_per_epoch < 1 or self.val_iterations < 0:
            raise InputError("--epochs and --iterations must be at least 1")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise InputError(f"--max-minutes must be positive, got {self.max_minutes}")
        if self.fit_budget and self.max_minutes is None:
            raise InputError("fitting a run to a budget needs --max-minutes")


@dataclass(frozen=True)
class TrainResult:
    """Where the model is and how the run ended."""

    model_dir: Path
    epochs_done: int
    stopped_early: bool
    validation_dice: float | None
    iterations_done: int = 0
    budget: dict | None = None  # what budget.json holds (the choice and how the run ended)


def train(
    raw_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    planner: PlannerOptions = PlannerOptions(),
    options: TrainOptions = TrainOptions(),
    device: str = "gpu",
    resume: bool = False,
    cache_dir: str | os.PathLike | None = None,
    quiet: bool = False,
    log: Callable[[str], None] = print,
    started: float | None = None,
) -> TrainResult:
    """Train an nnU-Net v2 model folder from an nnU-Net raw dataset.

    Args:
        raw_dir: dataset.json, imagesTr, labelsTr (+ splits_final.json).
        out_dir: where ``<trainer>__nnUNetPlans__3d_fullres/`` is written.
        planner: spacing (``config``), memory budget and network size.
        options: epochs, iterations, time budget, learning rate, mirroring, fold, seed.
        device: ``cpu``, ``gpu``, ``gpu:N`` or ``mps``.
        resume: continue from ``fold_0/checkpoint_latest.pth`` with the stored plans.
        cache_dir: preprocessed cases (default ``out_dir/preprocessed``).
        quiet: no progress bars.
        log: receives one line per epoch and per step.
        started: when the time budget began (``time.monotonic()``; default: now), e.g. when the
            command started, so that ``max_minutes`` covers its imports too.

    Examples:
        >>> result = train("Dataset900_Phantom", "model", planner=PlannerOptions(config="3mm"))  # doctest: +SKIP
        >>> totalseg.segment("ct.nii.gz", "seg.nii.gz", model_dir=result.model_dir, ml=True)  # doctest: +SKIP
    """
    started = time.monotonic() if started is None else started
    dataset = RawDataset.from_folder(raw_dir)
    torch_device = device_from_name(device)
    folder = model_folder(Path(out_dir), mirror=options.mirror)
    plans, fingerprint = _plans(dataset, folder, planner, resume, quiet, log)
    config = ModelConfig.from_dicts(plans, dataset.dataset_json)
    cache = Path(cache_dir) if cache_dir is not None else Path(out_dir) / "preprocessed"
    with tqdm(total=len(dataset.cases), desc="Preprocessing", unit="case", disable=quiet, leave=False) as bar:
        cases = preprocess_dataset(dataset, config, plans, cache, on_case=lambda _: bar.update())
    train_ids, val_ids = dataset.split(options.fold)
    if not val_ids:
        log("No validation cases in this fold: the pseudo Dice is measured on training cases")
    deadline, choice = None, None
    if options.max_minutes is not None:
        end = started + options.max_minutes * 60
        deadline = Deadline(started, end, 0.0, options.epochs * options.iterations_per_epoch)
        if options.fit_budget and not resume:
            choice = choose_budget_plan(fingerprint, dataset.dataset_json, dataset.root.name, planner,
                                        [cases[i] for i in train_ids], torch_device, budget_s=options.max_minutes * 60,
                                        deadline=end, n_val_cases=len(val_ids) if options.final_validation else 0,
                                        log=log, choose_threads=options.choose_threads)
            plans, options, config = _adopt(choice, options, folder, dataset.dataset_json, log)
            deadline = Deadline(time.monotonic(), end, choice.reserve_s, MAX_ITERATIONS)
    run = _Run(folder, plans, dataset.dataset_json, config, options, torch_device, quiet, log)
    run.setup([cases[i] for i in train_ids], [cases[i] for i in val_ids or train_ids], resume=resume)
    if choice is not None:
        run.epoch_end_s = choice.epoch_end_s
    stopped_early = run.fit(deadline, by_progress=choice is not None)
    dice = _final_validation(dataset, val_ids, folder, torch_device, log) if options.final_validation else None
    iterations = sum(r.iterations for r in run.log.records)
    budget = _finish_budget(folder, choice, run, started, stopped_early, dice) if choice is not None else None
    return TrainResult(folder, len(run.log.records), stopped_early, dice, iterations, budget)


def _adopt(choice: BudgetChoice, options: TrainOptions, folder: Path, dataset_json: dict,
           log) -> tuple[dict, TrainOptions, ModelConfig]:
    """Write the chosen plans and ``budget.json``; the options take the chosen epoch length and
    learning rate, and epochs run until the deadline (the planned count is only the estimate at the
    measured speed) or nnU-Net's 1000 x 250 iterations."""
    write_model_json(folder, choice.plans, dataset_json)
    write_budget(folder, choice.record())
    log(choice.summary())
    s = choice.schedule
    options = replace(options, epochs=-(-MAX_ITERATIONS // s.iterations_per_epoch),
                      iterations_per_epoch=s.iterations_per_epoch, val_iterations=s.val_iterations,
                      initial_lr=s.initial_lr, cpu_bf16=choice.cpu_bf16)
    return choice.plans, options, ModelConfig.from_dicts(choice.plans, dataset_json)


def _finish_budget(folder: Path, choice: BudgetChoice, run: _Run, started: float, stopped: bool,
                   dice: float | None) -> dict:
    """Add how the run ended to ``budget.json``."""
    records = run.log.records
    record = {**choice.record(), "done": {
        "epochs": len(records), "iterations": sum(r.iterations for r in records),
        "train_seconds": round(sum(r.train_seconds for r in records), 1),
        "seconds": round(time.monotonic() - started, 1), "stopped_by_deadline": stopped,
        "best_epoch": run.log.best_epoch(), "validation_mean_dice": dice}}
    write_budget(folder, record)
    return record


def plan(
    raw_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    planner: PlannerOptions = PlannerOptions(),
    mirror: bool = False,
    quiet: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Fingerprint and plan only: write the model folder's ``plans.json`` and ``dataset.json``.

    ``train`` with the same ``out_dir`` then plans again (the same plans for the same options), so
    this is for looking at (or hand-editing and then resuming from) a plan before training.

    Returns:
        The path of ``plans.json``.

    Examples:
        >>> plan("Dataset900_Phantom", "model", planner=PlannerOptions(config="3mm"))  # doctest: +SKIP
        PosixPath('model/nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres/plans.json')
    """
    dataset = RawDataset.from_folder(raw_dir)
    folder = model_folder(Path(out_dir), mirror=mirror)
    _plans(dataset, folder, planner, False, quiet, log)
    return folder / "plans.json"


def _plans(dataset: RawDataset, folder: Path, planner: PlannerOptions, resume: bool, quiet: bool,
           log) -> tuple[dict, Fingerprint | None]:
    import json

    latest = folder / "fold_0" / "checkpoint_latest.pth"
    if resume:
        if not latest.is_file():
            raise InputError(f"{latest} not found; nothing to resume (train without --resume first)")
        return json.loads((folder / "plans.json").read_text()), None
    if latest.is_file() or (folder / "fold_0" / "checkpoint_final.pth").is_file():
        raise InputError(f"{folder} already holds a trained model; pass --resume to continue it "
                         "or choose another --out")
    with tqdm(total=len(dataset.cases), desc="Fingerprint", unit="case", disable=quiet, leave=False) as bar:
        fingerprint = compute_fingerprint(dataset, on_case=lambda _: bar.update())
    plans = plan_experiment(fingerprint, dataset.dataset_json, options=planner, name=dataset.root.name)
    conf = plans["configurations"][CONFIGURATION]
    arch = conf["architecture"]["arch_kwargs"]
    memory = estimate_memory_gb(conf["patch_size"], Topology(arch["kernel_sizes"], arch["strides"]),
                                arch["features_per_stage"], conf["batch_size"], arch["n_conv_per_stage"][0])
    log(f"Plans: spacing {conf['spacing']} mm, patch {conf['patch_size']}, batch {conf['batch_size']}, "
        f"{arch['n_stages']} stages, features {arch['features_per_stage']}, "
        f"batch Dice {conf['batch_dice']}, ~{memory:.1f} GB training memory")
    write_model_json(folder, plans, dataset.dataset_json)
    return plans, fingerprint


class _Run:
    """The state of one training run (network, optimizer, loaders, log)."""

    def __init__(self, folder, plans, dataset_json, config, options: TrainOptions, device, quiet, log):
        self.folder, self.plans, self.dataset_json, self.config = folder, plans, dataset_json, config
        self.options, self.device, self.quiet, self.print = options, device, quiet, log
        self.log = TrainingLog()
        self.start_epoch = 0
        self.epoch_end_s = 0.0  # validation and checkpoints after an epoch: measured after the first

    def setup(self, train_cases, val_cases, *, resume: bool) -> None:
        torch.manual_seed(self.options.seed)
        conf = self.plans["configurations"][CONFIGURATION]
        patch = tuple(conf["patch_size"])
        self.batch_dice = bool(conf.get("batch_dice", False))
        self.network = build_network(self.config)
        self.network.apply(InitWeights_He(1e-2))
        self.network.decoder.deep_supervision = True
        self.network.to(self.device).train()
        self.optimizer = torch.optim.SGD(self.network.parameters(), lr=self.options.initial_lr, momentum=0.99,
                                         nesterov=True, weight_decay=self.options.weight_decay)
        self.amp = self.device.type == "cuda" or (self.device.type == "cpu" and self.options.cpu_bf16)
        self.scaler = torch.amp.GradScaler("cuda") if self.device.type == "cuda" else None
        mirror_axes = (0, 1, 2) if self.options.mirror else ()
        self.train_loader = PatchLoader(train_cases, default_augmentation(patch, mirror_axes=mirror_axes),
                                        conf["batch_size"], seed=self.options.seed)
        self.val_loader = PatchLoader(val_cases, no_augmentation(patch), conf["batch_size"],
                                      seed=self.options.seed + 1)
        if resume:
            self._restore(self.folder / "fold_0" / "checkpoint_latest.pth")

    def fit(self, deadline: Deadline | None = None, *, by_progress: bool = False) -> bool:
        """Train until the epochs are done or ``deadline`` says stop; True when stopped by the deadline.

        ``by_progress``: the learning rate follows ``deadline.progress`` every iteration instead of
        nnU-Net's per-epoch poly schedule. An interrupt (Ctrl-C) writes ``checkpoint_final.pth`` first.
        """
        stopped = False
        try:
            for epoch in range(self.start_epoch, self.options.epochs):
                if self.log.records and deadline is not None and deadline.stop_now(
                        now=time.monotonic(), epoch_end_s=self.epoch_end_s):
                    stopped = True
                    break
                if self._epoch(epoch, deadline, by_progress):
                    last = self.log.records[-1]
                    stopped = epoch + 1 < self.options.epochs or last.iterations < self.options.iterations_per_epoch
                    break
        except KeyboardInterrupt:
            if self.log.records:
                self._save("checkpoint_final.pth", len(self.log.records))
            raise
        self._save("checkpoint_final.pth", len(self.log.records))
        return stopped

    def _epoch(self, epoch: int, deadline: Deadline | None, by_progress: bool) -> bool:
        """Train, validate, log and checkpoint one epoch; True when the deadline cut it short."""
        opts = self.options
        lr = opts.initial_lr * (1 - epoch / opts.epochs) ** 0.9
        self._set_lr(lr)
        started = time.monotonic()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        train_loss, iterations, cut = self._train_epoch(epoch, deadline, by_progress)
        if by_progress:
            lr = self.optimizer.param_groups[0]["lr"]
        train_seconds = time.monotonic() - started
        val_loss, per_class = self._validate()
        mean = float(np.nanmean(per_class)) if not np.all(np.isnan(per_class)) else 0.0
        peak = torch.cuda.max_memory_allocated(self.device) / 1024**3 if self.device.type == "cuda" else None
        record = EpochRecord(epoch, train_loss, val_loss, [float(d) for d in per_class], mean,
                             self.log.next_ema(mean), lr, time.monotonic() - started, iterations,
                             train_seconds, peak)
        best = self.log.is_best(record)
        self.log.records.append(record)
        self._save("checkpoint_latest.pth", epoch + 1)
        if best:
            self._save("checkpoint_best.pth", epoch + 1)
        self.log.write(self.folder / "fold_0")
        self.epoch_end_s = time.monotonic() - started - train_seconds
        self.print(f"epoch {epoch}: train loss {train_loss:.4f}, val loss {val_loss:.4f}, pseudo dice "
                   f"{mean:.4f} (ema {record.ema_fg_dice:.4f}), lr {lr:.5f}, {iterations} it, {record.seconds:.1f} s")
        return cut or (deadline is not None and deadline.stop_now(now=time.monotonic(), epoch_end_s=self.epoch_end_s))

    def _set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _train_epoch(self, epoch: int, deadline: Deadline | None, by_progress: bool) -> tuple[float, int, bool]:
        losses, cut = [], False
        batches = self.train_loader.epoch(epoch, self.options.iterations_per_epoch,
                                          threads=self.options.loader_threads)
        bar = tqdm(batches, total=self.options.iterations_per_epoch, desc=f"Epoch {epoch}", unit="it",
                   disable=self.quiet, leave=False)
        for batch in bar:
            if by_progress:
                done = sum(r.iterations for r in self.log.records) + len(losses)
                progress = deadline.progress(now=time.monotonic(), iterations=done, epoch_end_s=self.epoch_end_s)
                self._set_lr(poly_lr(self.options.initial_lr, progress))
            losses.append(self._step(batch.image.to(self.device), batch.seg.to(self.device)))
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if deadline is not None and deadline.stop_now(now=time.monotonic(), epoch_end_s=self.epoch_end_s):
                cut = len(losses) < self.options.iterations_per_epoch
                break
        bar.close()
        return float(np.mean(losses)), len(losses), cut

    def _step(self, image: torch.Tensor, seg: torch.Tensor) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        _, loss = outputs_and_loss(self.network, image, seg, amp=self.amp, batch_dice=self.batch_dice)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), GRAD_CLIP)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), GRAD_CLIP)
            self.optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def _validate(self) -> tuple[float, np.ndarray]:
        """Loss and per-class pseudo Dice (summed over fixed validation patches, as nnU-Net)."""
        n_classes = self.config.num_outputs
        tp, fp, fn = (np.zeros(n_classes - 1) for _ in range(3))
        losses = []
        self.network.eval()
        for batch in self.val_loader.epoch(0, self.options.val_iterations, threads=0):
            image, seg = batch.image.to(self.device), batch.seg.to(self.device)
            outputs, loss = outputs_and_loss(self.network, image, seg, amp=self.amp, batch_dice=self.batch_dice)
            losses.append(float(loss))
            pred = outputs[0].argmax(1)
            target = seg[:, 0].long()
            for c in range(1, n_classes):
                p, t = pred == c, target == c
                tp[c - 1] += int((p & t).sum())
                fp[c - 1] += int((p & ~t).sum())
                fn[c - 1] += int((~p & t).sum())
        self.network.train()
        with np.errstate(invalid="ignore", divide="ignore"):
            dice = np.where(tp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
        return (float(np.mean(losses)) if losses else float("nan")), dice

    def _save(self, name: str, next_epoch: int) -> None:
        state = checkpoint_state(self.network, self.optimizer, self.scaler, self.log, epoch=next_epoch,
                                 plans=self.plans, dataset_json=self.dataset_json, fold=self.options.fold,
                                 mirror=self.options.mirror)
        save_checkpoint(state, self.folder / "fold_0" / name)

    def _restore(self, path: Path) -> None:
        state = load_checkpoint(path)
        load_weights(self.network, state["network_weights"], source=str(path))
        self.optimizer.load_state_dict(state["optimizer_state"])
        if self.scaler is not None and state.get("grad_scaler_state"):
            self.scaler.load_state_dict(state["grad_scaler_state"])
        self.log = TrainingLog.from_state(state.get("totalseg_log", []))
        self.start_epoch = int(state["current_epoch"])
        self.print(f"Resuming {path} at epoch {self.start_epoch}")


def _final_validation(dataset: RawDataset, val_ids: list[str], folder: Path, device, log) -> float | None:
    """Segment the validation cases with the inference pipeline and score them (Dice, NSD)."""
    from totalseg.api import segment
    from totalseg.evaluation.evaluate import evaluate_folders, write_metrics

    if not val_ids:
        return None
    out = folder / "fold_0" / "validation"
    out.mkdir(parents=True, exist_ok=True)
    by_id = {c.case_id: c for c in dataset.cases}
    ending = dataset.dataset_json.get("file_ending", ".nii.gz")
    for case_id in val_ids:
        segment(by_id[case_id].image, out / f"{case_id}{ending}", model_dir=folder, ml=True, quiet=True,
                device=str(device).replace("cuda", "gpu"))
    result = evaluate_folders(dataset.root / "labelsTr", out, case_ids=val_ids,
                              labels_json=dataset.root / "dataset.json")
    write_metrics(result, out / "summary.json")
    mean = result.mean()
    log(f"Validation ({len(val_ids)} cases): mean Dice {mean['dice']:.4f}, NSD@3mm {mean['nsd']:.4f}")
    return mean["dice"]
