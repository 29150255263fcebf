"""``totalseg train``: train an nnU-Net v2 model folder from an nnU-Net raw dataset."""

from __future__ import annotations

import argparse
import sys
import time


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train an nnU-Net v2-compatible model on an nnU-Net raw dataset",
        description="Plan (spacing, patch, network depth, batch size), preprocess to a disk cache, train "
                    "with nnU-Net's recipe (Dice + CE with deep supervision, SGD with poly learning rate, "
                    "AMP on GPU) and write MODEL_DIR/<trainer>__nnUNetPlans__3d_fullres/ that "
                    "`totalseg segment --model-dir` and nnU-Net's own predictor run. The validation "
                    "cases are then segmented and scored (Dice, NSD).",
    )
    p.add_argument("raw_dir", metavar="RAW_DIR", help="nnU-Net raw dataset: dataset.json, imagesTr, labelsTr "
                                                      "(what `totalseg dataset to-nnunet` writes)")
    p.add_argument("--out", required=True, metavar="MODEL_DIR", help="where the model folder is written")
    p.add_argument("--config", default="auto", choices=["auto", "3mm", "1.5mm", "6mm"],
                   help="target spacing: isotropic 3 / 1.5 / 6 mm as TotalSegmentator, or auto (the median "
                        "spacing of the data, as nnU-Net); default auto")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs (default 1000, as nnU-Net)")
    p.add_argument("--iterations", type=int, metavar="N", help="iterations per epoch (default 250)")
    p.add_argument("--val-iterations", type=int, metavar="N",
                   help="validation batches per epoch for the pseudo Dice (default 50)")
    p.add_argument("--max-minutes", type=float, metavar="M",
                   help="the whole run fits in M minutes: measure the training speed of nnU-Net's plan and "
                        "smaller ones on the device, choose plan, epochs and iterations for the budget "
                        "(budget.json in the model folder says what and why), stop in time for the final "
                        "checkpoint and validation. With --epochs, --iterations, --val-iterations, --lr, "
                        "--features, --max-features, --patch-size or --batch-size the plan is yours and "
                        "M minutes only stop it")
    p.add_argument("-d", "--device", default="gpu", help="cpu, gpu, gpu:N or mps (default gpu; cpu if none)")
    p.add_argument("--resume", action="store_true", help="continue from fold_0/checkpoint_latest.pth")
    p.add_argument("--fold", type=int, default=0, metavar="K", help="validation fold of splits_final.json or of "
                                                                    "nnU-Net's 5-fold split (default 0)")
    p.add_argument("--memory-gb", type=float, default=8.0, metavar="GB",
                   help="GPU memory budget the planner fits patch and batch to (default 8, as nnU-Net)")
    p.add_argument("--features", type=int, metavar="N", help="features of the first stage (default 32)")
    p.add_argument("--max-features", type=int, metavar="N", help="feature cap (default 320)")
    p.add_argument("--patch-size", type=int, nargs=3, metavar=("X", "Y", "Z"), help="override the planned patch")
    p.add_argument("--batch-size", type=int, metavar="N", help="override the planned batch size")
    p.add_argument("--lr", type=float, help="initial learning rate (default 0.01)")
    p.add_argument("--mirror", action="store_true",
                   help="mirroring augmentation and test-time mirroring (off by default: left/right classes)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--loader-threads", type=int, default=1, metavar="N",
                   help="background threads making batches (default 1; 0 makes them in the training thread)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads for torch (default: torch's choice; with --max-minutes, one thread when "
                        "measured faster)")
    p.add_argument("--cache", metavar="DIR", help="preprocessed data cache (default MODEL_DIR/preprocessed)")
    p.add_argument("--plan-only", action="store_true",
                   help="write plans.json and dataset.json, print the plan and stop (no preprocessing or training)")
    p.add_argument("--no-validation", action="store_true", help="skip segmenting and scoring the validation cases")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()  # --max-minutes counts from here, torch's import included
    from totalseg.errors import InputError
    from totalseg.training.planner import PlannerOptions
    from totalseg.training.trainer import TrainOptions, train

    if args.threads is not None:
        if args.threads < 1:
            raise InputError(f"--threads must be at least 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    if args.patch_size is not None and min(args.patch_size) < 1 or args.batch_size is not None and args.batch_size < 1:
        raise InputError("--patch-size and --batch-size must be positive")
    if args.lr is not None and not args.lr > 0:
        raise InputError(f"--lr must be positive, got {args.lr}")
    fixed = [name for name in _PLAN_FLAGS if getattr(args, name) is not None]
    planner = PlannerOptions(config=args.config, memory_gb=args.memory_gb, base_features=_or(args.features, 32),
                             max_features=_or(args.max_features, 320),
                             patch_size=tuple(args.patch_size) if args.patch_size else None,
                             batch_size=args.batch_size)
    options = TrainOptions(epochs=_or(args.epochs, 1000), iterations_per_epoch=_or(args.iterations, 250),
                           val_iterations=_or(args.val_iterations, 50), max_minutes=args.max_minutes,
                           initial_lr=_or(args.lr, 1e-2), mirror=args.mirror, fold=args.fold, seed=args.seed,
                           loader_threads=args.loader_threads, final_validation=not args.no_validation,
                           fit_budget=args.max_minutes is not None and not fixed and not args.resume,
                           choose_threads=args.threads is None)
    log = (lambda _line: None) if args.quiet else (lambda line: print(line, file=sys.stderr))
    if args.plan_only:
        from totalseg.training.trainer import plan

        print(plan(args.raw_dir, args.out, planner=planner, mirror=args.mirror, quiet=args.quiet, log=print))
        return 0
    result = train(args.raw_dir, args.out, planner=planner, options=options, device=args.device,
                   resume=args.resume, cache_dir=args.cache, quiet=args.quiet, log=log, started=started)
    ending = "stopped by --max-minutes" if result.stopped_early else "done"
    if result.budget is not None:
        ending += f", {result.iterations_done} iterations, plan {result.budget['chosen']['rung']}"
    dice = "" if result.validation_dice is None else f", validation mean Dice {result.validation_dice:.4f}"
    print(f"{result.model_dir} ({result.epochs_done} epochs, {ending}{dice})")
    return 0


# Flags that fix the plan or schedule: with any of them --max-minutes only stops the run.
_PLAN_FLAGS = ("epochs", "iterations", "val_iterations", "lr", "features", "max_features", "patch_size", "batch_size")


def _or(value, default):
    return default if value is None else value
