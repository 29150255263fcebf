"""Held-out Dice against the time budget of ``totalseg train --max-minutes N``, on phantom sets.

Usage::

    python benchmarks/train_budget.py                              # the whole table (about 50 minutes)
    python benchmarks/train_budget.py --runs organs5:8 thin:8     # some rows; others keep their last result
    python benchmarks/train_budget.py --table                      # rewrite the table from stored results
    python benchmarks/train_budget.py --parity organs5:8           # + nnU-Net's predictor on that model

For each run (phantom kind, minutes) the script writes the kind's phantom set
(``totalseg.training.phantom.PHANTOM_KINDS``: training cases and held-out test cases), runs
``totalseg train RAW --out OUT --max-minutes N -d cpu --threads T -q`` as a user would, segments the
held-out cases with the trained model (``totalseg.segment(model_dir=...)``) and scores them with
``totalseg.evaluation`` (Dice per structure). It samples the machine's load average while training.
Results accumulate in ``.bench/train-budget/results.json`` (one per kind, budget and phantom seed,
the latest kept); the table goes into docs/training.md (section ``train-budget``). ``--parity`` also runs the
held-out cases through nnU-Net's own ``nnUNetPredictor`` (the official tool's venv) and counts the
voxels whose label differs from ours.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from harness import BENCH_DIR, DOCS, machine, official_venv, write_section

WORK = BENCH_DIR / "train-budget"
RESULTS = WORK / "results.json"
TOTALSEG = str(Path(sys.executable).parent / "totalseg")
DEFAULT_RUNS = ("organs5:2", "organs5:4", "organs5:8", "organs5:16", "thin:8", "aniso:8")
FOLDER = "nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres"


def dataset(kind: str, seed: int) -> Path:
    from totalseg.training.phantom import write_phantom_kind

    root = WORK / f"{kind}_seed{seed}" / "Dataset900_Phantom"
    if not (root / "dataset.json").is_file():
        write_phantom_kind(root, kind, seed=seed)
    return root


def train(raw: Path, out: Path, minutes: float, threads: int) -> tuple[float, float]:
    """Run ``totalseg train --max-minutes``; returns (wall seconds, mean 1-minute load average)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [TOTALSEG, "train", str(raw), "--out", str(out), "--max-minutes", str(minutes), "-d", "cpu", "-q"]
    cmd += ["--threads", str(threads)] if threads else []
    started, loads = time.monotonic(), []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        while proc.poll() is None:
            time.sleep(0.2)
            if time.monotonic() - started >= 5 * (len(loads) + 1):
                loads.append(os.getloadavg()[0])
        output = proc.stdout.read()
    if proc.returncode != 0:
        raise SystemExit(f"totalseg train failed:\n{output}")
    print(output.strip())
    return time.monotonic() - started, float(np.mean(loads)) if loads else float("nan")


def held_out_dice(raw: Path, out: Path, pred: Path) -> dict:
    """Segment imagesTs with the model and score against labelsTs: mean and per-structure Dice."""
    import torch

    from totalseg.api import segment
    from totalseg.evaluation.evaluate import evaluate_folders

    torch.set_num_threads(2)
    shutil.rmtree(pred, ignore_errors=True)
    pred.mkdir(parents=True)
    for image in sorted((raw / "imagesTs").glob("*_0000.nii.gz")):
        case = image.name[: -len("_0000.nii.gz")]
        segment(image, pred / f"{case}.nii.gz", model_dir=out, ml=True, quiet=True, device="cpu")
    result = evaluate_folders(raw / "labelsTs", pred, labels_json=raw / "dataset.json")
    per_class = {name: round(v["dice"], 4) for name, v in result.per_class().items()}
    return {"mean_dice": round(result.mean()["dice"], 4), "per_class": per_class}


def one_run(kind: str, minutes: float, seed: int, threads: int) -> dict:
    raw = dataset(kind, seed)
    name = f"{kind}_{minutes:g}min" + (f"_seed{seed}" if seed else "")
    out = WORK / "models" / name
    wall, load = train(raw, out, minutes, threads)
    budget = json.loads((out / FOLDER / "budget.json").read_text())
    scores = held_out_dice(raw, out, WORK / "pred" / name)
    chosen = budget["chosen"]
    speed = next(c for c in budget["candidates"] if c["name"] == chosen["rung"])
    row = {"kind": kind, "minutes": minutes, "seed": seed, "threads": threads, "wall_s": round(wall, 1),
           "load": round(load, 2), "rung": chosen["rung"], "patch": speed["patch_size"],
           "batch": speed["batch_size"], "features": speed["features_per_stage"],
           "precision": budget.get("precision", "fp32"),
           "measured": {c["name"]: c["iterations_per_s"] for c in budget["candidates"]},
           "epochs": budget["done"]["epochs"], "iterations": budget["done"]["iterations"],
           "train_s": budget["done"]["train_seconds"], **scores,
           "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    print(json.dumps(row))
    return row


def parity(kind: str, minutes: float, seed: int) -> str:
    """nnU-Net's predictor on the held-out cases with the stored model: voxels that differ from ours."""
    from train_parity import OFFICIAL_PREDICT

    raw = dataset(kind, seed)
    folder = WORK / "models" / f"{kind}_{minutes:g}min" / FOLDER
    ours, official = WORK / "pred" / f"{kind}_{minutes:g}min", WORK / "pred_official"
    shutil.rmtree(official, ignore_errors=True)
    official.mkdir(parents=True)
    images = sorted((raw / "imagesTs").glob("*_0000.nii.gz"))
    subprocess.run([str(official_venv() / "python"), "-c", OFFICIAL_PREDICT, str(folder), str(official),
                    *map(str, images)], check=True)
    differ = total = 0
    for image in images:
        case = image.name[: -len("_0000.nii.gz")]
        a = np.asanyarray(nib.load(ours / f"{case}.nii.gz").dataobj).astype(np.int16)
        b = np.asanyarray(nib.load(official / f"{case}.nii.gz").dataobj).astype(np.int16)
        differ += int((a != b).sum()) if a.shape == b.shape else a.size
        total += a.size
    return (f"nnU-Net's own predictor (nnunetv2 `nnUNetPredictor`, `checkpoint_final.pth`) on the {kind} "
            f"{minutes:g}-minute model: {differ} of {total} voxels of the {len(images)} held-out cases differ "
            "from `totalseg segment --model-dir`.")


def table(rows: list[dict], parity_line: str | None) -> str:
    from totalseg.training.phantom import PHANTOM_KINDS

    lines = [
        "## Held-out Dice against the time budget",
        "",
        f"`python benchmarks/train_budget.py`: `totalseg train RAW --out OUT --max-minutes N -d cpu [--threads T]` "
        "(everything else chosen by the budget), then the held-out cases segmented with the model and "
        f"scored. Machine: {machine()}; load: the mean 1-minute load average during the run (the run itself "
        "accounts for about 1 with one torch thread and 2 with two; more means other work shared the cores and the "
        "run got fewer iterations).",
        "",
        *[f"- `{k}`: {v.note}, {v.n_test} held-out cases." for k, v in PHANTOM_KINDS.items()],
        "",
        "| kind | seed | budget | threads | plan chosen (patch, batch, features, precision) | "
        "epochs, iterations done (training s) | measured it/s (tiny / small / wide / nnunet) | "
        "held-out mean Dice | lowest structure Dice | wall | load | "
        "when |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["kind"] != "organs5", r["kind"], r["minutes"], r.get("seed", 0))):
        measured = " / ".join("-" if r["measured"].get(n) is None else f"{r['measured'][n]:.2f}"
                              for n in ("tiny", "small", "wide", "nnunet"))
        worst = min(r["per_class"], key=r["per_class"].get)
        lines.append(
            f"| {r['kind']} | {r.get('seed', 0)} | {r['minutes']:g} min "
            f"| {r['threads'] or f'default ({os.cpu_count()})'} | {r['rung']} "
            f"({'x'.join(map(str, r['patch']))}, {r['batch']}, {r['features'][0]}..{r['features'][-1]}, "
            f"{r.get('precision', 'fp32')}) | "
            f"{r['epochs']} epochs, {r['iterations']} it ({r['train_s']:.0f} s) | {measured} | "
            f"{r['mean_dice']:.3f} | {worst} {r['per_class'][worst]:.3f} | "
            f"{r['wall_s']:.0f} s | {r['load']:.1f} | {r['when']} |")
    if parity_line:
        lines += ["", parity_line]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="*", default=list(DEFAULT_RUNS), metavar="KIND:MINUTES")
    parser.add_argument("--table", action="store_true", help="only rewrite the table from stored results")
    parser.add_argument("--parity", metavar="KIND:MINUTES", help="compare that model with nnU-Net's predictor")
    parser.add_argument("--seed", type=int, default=0, help="phantom seed (default 0)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default 0: no --threads, torch's choice, one per core)")
    args = parser.parse_args()
    stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"rows": [], "parity": None}
    if not args.table:
        for spec in args.runs:
            kind, minutes = spec.split(":")
            row = one_run(kind, float(minutes), args.seed, args.threads)
            key = (kind, float(minutes), args.seed)
            stored["rows"] = [r for r in stored["rows"] if (r["kind"], r["minutes"], r.get("seed", 0)) != key]
            stored["rows"].append(row)
            WORK.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(stored, indent=1))
    if args.parity:
        kind, minutes = args.parity.split(":")
        stored["parity"] = parity(kind, float(minutes), args.seed)
        RESULTS.write_text(json.dumps(stored, indent=1))
    text = table(stored["rows"], stored.get("parity"))
    write_section("train-budget", text, path=DOCS.parent / "training.md")
    print(text)


if __name__ == "__main__":
    main()
