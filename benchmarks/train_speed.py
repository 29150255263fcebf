"""Training speed of ``totalseg train`` against nnU-Net's own trainer: same data, same plans, same device.

Usage::

    python benchmarks/train_speed.py                      # GPU: 3 mm plan on 40 phantoms of 96^3 voxels
    python benchmarks/train_speed.py --device cpu --cases 6 --shape 32 --patch 32 --features 8 --iterations 10

Writes a phantom dataset in nnU-Net raw format, plans it with ``totalseg train --plan-only``, and trains
both for the same number of iterations with that one ``plans.json``: ours with ``totalseg train``, and
nnU-Net's ``nnUNetTrainer`` (its own preprocessing from the same plans, its own data loader with
background augmentation workers) driven step by step in the official tool's venv. Reports training
iterations per second (validation excluded, the first ``--warmup`` iterations excluded) and peak GPU
memory allocated by torch. Results go into docs/benchmarks.md (section ``train-speed``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness import BENCH_DIR, machine, official_venv, write_section

WORK = BENCH_DIR / "train-speed"
TOTALSEG = str(Path(sys.executable).parent / "totalseg")
DATASET = "Dataset900_Phantom"

# Runs in the official venv: nnU-Net's trainer on its preprocessed data, timed step by step.
NNUNET_DRIVER = """
import json, sys, time, torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
plans_path, dataset_json_path, device, iterations, warmup = sys.argv[1:6]
iterations, warmup = int(iterations), int(warmup)
plans, dataset_json = json.load(open(plans_path)), json.load(open(dataset_json_path))
plans["continue_training"] = False  # set by nnUNetv2_train's entry point in nnU-Net 2.8
trainer = nnUNetTrainer(plans, "3d_fullres", 0, dataset_json, device=torch.device(device))
trainer.num_epochs, trainer.num_iterations_per_epoch = 1, iterations
trainer.on_train_start()
trainer.on_epoch_start()
trainer.on_train_epoch_start()
cuda = trainer.device.type == "cuda"
for i in range(iterations):
    if i == warmup:
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
    trainer.train_step(next(trainer.dataloader_train))
if cuda:
    torch.cuda.synchronize()
seconds = time.perf_counter() - start
peak = torch.cuda.max_memory_allocated() / 1024**3 if cuda else None
print(json.dumps({"its_per_s": (iterations - warmup) / seconds, "peak_gb": peak}))
trainer.on_train_end()
"""


def nnunet_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(nnUNet_raw=str(WORK / "nnUNet_raw"), nnUNet_preprocessed=str(WORK / "nnUNet_preprocessed"),
               nnUNet_results=str(WORK / "nnUNet_results"), nnUNet_n_proc_DA=str(min(12, os.cpu_count() or 1)))
    return env


def run_ours(raw: Path, args) -> dict:
    out = WORK / "ours"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([TOTALSEG, "train", str(raw), "--out", str(out), "--plan-only", *plan_args(args), "-q"],
                   check=True, stdout=subprocess.DEVNULL)
    folder = next(out.glob("*/plans.json")).parent
    shutil.rmtree(folder)
    subprocess.run([TOTALSEG, "train", str(raw), "--out", str(out), *plan_args(args), "-d", args.device,
                    "--epochs", "2", "--iterations", str(args.iterations), "--val-iterations", "1",
                    "--loader-threads", str(args.loader_threads), "--no-validation", "-q"], check=True)
    log = json.loads((folder / "fold_0" / "training_log.json").read_text())[-1]  # the second epoch: warm
    return {"its_per_s": log["iterations"] / log["train_seconds"], "peak_gb": log["peak_gpu_memory_gb"],
            "plans": folder / "plans.json", "dataset_json": folder / "dataset.json"}


def run_nnunet(ours: dict, args) -> dict:
    bin_dir, env = official_venv(), nnunet_env()
    shutil.rmtree(WORK / "nnUNet_preprocessed", ignore_errors=True)
    subprocess.run([str(bin_dir / "nnUNetv2_extract_fingerprint"), "-d", "900", "-np", "2"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    target = WORK / "nnUNet_preprocessed" / DATASET
    shutil.copy(ours["plans"], target / "nnUNetPlans.json")
    shutil.copy(WORK / "nnUNet_raw" / DATASET / "dataset.json", target / "dataset.json")  # as plan_and_preprocess
    subprocess.run([str(bin_dir / "nnUNetv2_preprocess"), "-d", "900", "-c", "3d_fullres", "-np", "2"], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    proc = subprocess.run([str(bin_dir / "python"), "-c", NNUNET_DRIVER, str(target / "nnUNetPlans.json"),
                           str(target / "dataset.json"), "cuda" if args.device.startswith("gpu") else args.device,
                           str(args.iterations + args.warmup), str(args.warmup)],
                          env=env, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(next(line for line in proc.stdout.splitlines() if line.startswith('{"its_per_s"')))


def plan_args(args) -> list[str]:
    extra = ["--patch-size", *[str(args.patch)] * 3] if args.patch else []
    return ["--config", "3mm", "--features", str(args.features), *extra]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="gpu", help="gpu (default) or cpu")
    parser.add_argument("--cases", type=int, default=40, help="phantoms (default 40)")
    parser.add_argument("--shape", type=int, default=96, help="phantom edge in voxels at 3 mm (default 96)")
    parser.add_argument("--patch", type=int, help="patch edge (default: the planner's)")
    parser.add_argument("--features", type=int, default=32, help="first-stage features (default 32)")
    parser.add_argument("--iterations", type=int, default=100, help="timed iterations (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed nnU-Net iterations first (default 10)")
    parser.add_argument("--loader-threads", type=int, default=4, help="our loader threads (default 4)")
    args = parser.parse_args()
    from totalseg.training.phantom import write_phantom_dataset

    raw = WORK / "nnUNet_raw" / DATASET
    shutil.rmtree(raw, ignore_errors=True)
    write_phantom_dataset(raw, n_train=args.cases, shape=(args.shape,) * 3, seed=0)
    ours = run_ours(raw, args)
    theirs = run_nnunet(ours, args)
    conf = json.loads(ours["plans"].read_text())["configurations"]["3d_fullres"]
    fmt = lambda gb: "n/a (CPU)" if gb is None else f"{gb:.2f} GiB"  # noqa: E731
    text = "\n".join([
        "## Training speed against nnU-Net's trainer",
        "",
        f"{args.cases} phantoms of {args.shape}^3 voxels at 3 mm, one plans.json for both: patch "
        f"{conf['patch_size']}, batch {conf['batch_size']}, features "
        f"{conf['architecture']['arch_kwargs']['features_per_stage']}; device {args.device}; "
        f"{args.iterations} timed iterations. `benchmarks/train_speed.py`. Machine: {machine()}.",
        "",
        "| trainer | iterations / s | peak GPU memory (torch) |",
        "|---|---|---|",
        f"| totalseg train | {ours['its_per_s']:.2f} | {fmt(ours['peak_gb'])} |",
        f"| nnU-Net 2.x nnUNetTrainer | {theirs['its_per_s']:.2f} | {fmt(theirs['peak_gb'])} |",
        *(["", "A CPU run checks the script end to end; it is not a speed comparison (the issue's is on a GPU)."]
          if args.device == "cpu" else []),
    ])
    write_section("train-speed", text)
    print(text)


if __name__ == "__main__":
    main()
