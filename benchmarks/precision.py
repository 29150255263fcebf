"""What the opt-in ``--precision bf16`` gains in time and costs in Dice, against the default.

Usage::

    python benchmarks/precision.py                    # seeded weights on (a) and (b), a trained phantom model
    python benchmarks/precision.py --weights DIR      # also official weights in DIR on the shared CT
    python benchmarks/precision.py --no-write         # print, leave docs/benchmarks.md

The default precision gives the official tool's masks (see parity.py); ``bf16`` runs the network
in bfloat16. Three measurements:

1. Time and memory: the official tool, totalseg's default and totalseg ``--precision bf16`` on
   inputs (a) and (b) of speed.py with the same full-size seeded weights: alternating runs,
   median of 3, peak memory from one more sampled run of each.
2. Dice of the bf16 masks against the default's, per class present. Random weights are the worst
   case for a lower precision: their logits are near-ties everywhere, so many voxels flip.
3. A trained model: a phantom model trained with the recipe of docs/training.md (three organs,
   about 3 minutes on 2 cores, held-out Dice near 0.88), its held-out phantoms segmented both ways
   and scored against the ground truth; with ``--weights``, official TotalSegmentator weights (a
   folder laid out as ``TOTALSEG_WEIGHTS_PATH``) on the shared CT, ``--fast``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
from harness import BENCH_DIR, DOCS, gib, machine, official_venv, offline_env, seeded_weights, timed_run, write_section
from parity import SHARED_CT
from speed import clinical
from train_parity import model_folder

from totalseg.evaluation.metrics import dice

WORK = BENCH_DIR / "precision"
TOTALSEG = str(Path(sys.executable).parent / "totalseg")
CASES = [
    ("(a) 122x101x30, `--fast --ml`", lambda: SHARED_CT, ("--fast", "--ml")),
    ("(b) 488x404x269, `--fast`", clinical, ("--fast",)),
    ("(b) 488x404x269, `--fast --ml`", clinical, ("--fast", "--ml")),
]
RUNS = {"official": (), "default": ("--precision", "nnunet"), "bf16": ("--precision", "bf16")}


def time_case(image: Path, args: tuple[str, ...], env: dict[str, str], repeats: int) -> dict[str, tuple[float, int]]:
    """Median wall time and one sampled peak of each run kind, the kinds alternating."""
    official = str(official_venv() / "TotalSegmentator")

    def run(kind: str, poll_s: float | None):
        tool = [official] if kind == "official" else [TOTALSEG, "segment", "--no-download", *RUNS[kind]]
        out = WORK / (f"{kind}.nii.gz" if "--ml" in args else kind)
        result = timed_run([*tool, "-i", str(image), "-o", str(out), "-d", "cpu", "-q", *args], env, poll_s=poll_s)
        if result.returncode != 0:
            raise SystemExit(f"{kind} failed:\n{result.output[-3000:]}")
        print(f"  {kind}: {result.wall_s:.1f} s" + (f", peak {gib(result.peak_mem)}" if poll_s else ""),
              file=sys.stderr, flush=True)
        return result

    walls: dict[str, list[float]] = {kind: [] for kind in RUNS}
    for i in range(repeats):
        for kind in (list(RUNS) if i % 2 == 0 else list(reversed(RUNS))):
            walls[kind].append(run(kind, None).wall_s)
    return {kind: (statistics.median(walls[kind]), run(kind, 0.1).peak_mem) for kind in RUNS}


def dice_by_class(reference: np.ndarray, other: np.ndarray) -> dict[int, float]:
    """Dice of ``other`` against ``reference`` for every label present in either (not background)."""
    labels = np.union1d(np.unique(reference), np.unique(other))
    return {int(k): dice(reference == k, other == k) if (reference == k).any() else 0.0 for k in labels if k != 0}


def segment_ml(image: Path, out: Path, precision: str, extra: tuple[str, ...], env: dict[str, str] | None = None
               ) -> np.ndarray:
    cmd = [TOTALSEG, "segment", "-i", str(image), "-o", str(out), "--ml", "-d", "cpu", "-q", "--no-download",
           "--precision", precision, *extra]
    subprocess.run(cmd, check=True, env=env)
    return np.asanyarray(nib.load(out).dataobj)


def seeded_rows(repeats: int) -> list[str]:
    env = offline_env(seeded_weights([297]))
    rows = []
    for what, make_input, args in CASES:
        print(f"{what} ...", file=sys.stderr, flush=True)
        image = make_input()
        t = time_case(image, args, env, repeats)
        (ow, om), (dw, dm), (bw, bm) = t["official"], t["default"], t["bf16"]
        agreement, mean_d, min_d = "", "", ""
        if "--ml" in args:
            ref, low = (np.asanyarray(nib.load(WORK / f"{k}.nii.gz").dataobj) for k in ("default", "bf16"))
            scores = list(dice_by_class(ref, low).values())
            agreement = f"{100 * (ref == low).mean():.2f} %"
            mean_d, min_d = f"{np.mean(scores):.3f}", f"{min(scores):.3f}"
        rows.append(f"| {what} | {ow:.1f} s | {dw:.1f} s | {bw:.1f} s | {ow / dw:.1f}x | {ow / bw:.1f}x | "
                    f"{gib(dm)} | {gib(bm)} | {bm / om:.2f} | {agreement or 'as `--ml`'} | {mean_d or '-'} | "
                    f"{min_d or '-'} |")
    return rows


def train_phantom_model(epochs: int) -> tuple[Path, list[Path]]:
    """The phantom model of docs/training.md (liver, lung, bone; 32^3 at 3 mm) and its test images."""
    from totalseg.training.phantom import write_phantom_dataset

    raw = WORK / "Dataset900_Phantom"
    shutil.rmtree(raw, ignore_errors=True)
    write_phantom_dataset(raw, n_train=10, n_test=3, shape=(32, 32, 32), organs=("liver", "lung", "bone"))
    out = WORK / "phantom_model"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([TOTALSEG, "train", str(raw), "--out", str(out), "--config", "3mm", "-d", "cpu", "--threads", "1",
                    "--epochs", str(epochs), "--iterations", "50", "--lr", "0.03", "--patch-size", "24", "24", "24",
                    "--batch-size", "2", "--features", "16", "--max-features", "64", "-q", "--no-validation"],
                   check=True)
    return out, sorted((raw / "imagesTs").glob("*_0000.nii.gz"))


def trained_rows(epochs: int, weights: Path | None) -> list[str]:
    model, images = train_phantom_model(epochs)
    folder = model_folder(model)
    rows = []
    truth_dir = images[0].parent.parent / "labelsTs"
    for image in images:
        case = image.name[: -len("_0000.nii.gz")]
        truth = np.asanyarray(nib.load(truth_dir / f"{case}.nii.gz").dataobj)
        ref, low = (segment_ml(image, WORK / f"{case}_{p}.nii.gz", p, ("--model-dir", str(folder)))
                    for p in ("nnunet", "bf16"))
        rows.append(_trained_row(f"phantom model, {case}", truth, ref, low))
    if weights is not None:
        env = {**os.environ, "TOTALSEG_WEIGHTS_PATH": str(weights)}
        ref, low = (segment_ml(SHARED_CT, WORK / f"official_weights_{p}.nii.gz", p, ("--fast",), env)
                    for p in ("nnunet", "bf16"))
        rows.append(_trained_row("official weights, (a) `--fast`", None, ref, low))
    return rows


def _trained_row(what: str, truth: np.ndarray | None, ref: np.ndarray, low: np.ndarray) -> str:
    between = list(dice_by_class(ref, low).values())
    if truth is None:
        vs_truth = "- | -"
    else:
        vs_truth = " | ".join(f"{np.mean(list(dice_by_class(truth, x).values())):.3f}" for x in (ref, low))
    return (f"| {what} | {vs_truth} | {100 * (ref == low).mean():.3f} % | {np.mean(between):.4f} | "
            f"{min(between, default=1.0):.4f} |")


def markdown(seeded: list[str] | None, trained: list[str], repeats: int, epochs: int) -> str:
    """The section; ``seeded=None`` keeps the seeded-weights table of the last run (``--trained-only``)."""
    if seeded is None:
        seeded = _rows_in_docs("| (")
    return "\n".join([
        "## Opt-in `--precision bf16`: time and Dice cost",
        "",
        f"`python benchmarks/precision.py`. Machine: {machine()}. The default precision gives the "
        "official tool's masks (parity section); `--precision bf16` runs the network in bfloat16 "
        "(autocast) and accumulates in fp32.",
        "",
        f"Full-size seeded weights of model 297 (random): median wall time of {repeats} alternating runs, peak "
        "memory (PSS) from one more run of each; agreement and Dice of the bf16 masks against the default's "
        "(classes present in either).",
        "",
        "| input, mode | official | totalseg | totalseg bf16 | speed-up | bf16 speed-up | totalseg peak | "
        "bf16 peak | bf16 memory ratio | voxel agreement | mean Dice | min Dice |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *seeded,
        "",
        f"Trained models: a phantom model (liver, lung, bone; the recipe of docs/training.md, {epochs} x 50 "
        "iterations) on its held-out phantoms: mean Dice over the classes against the ground truth, default and "
        "bf16, and the bf16 masks against the default's.",
        "",
        "| model, input | Dice vs truth, default | Dice vs truth, bf16 | voxel agreement | mean Dice bf16 vs "
        "default | min Dice |",
        "|---|---|---|---|---|---|",
        *trained,
    ])


def _rows_in_docs(prefix: str) -> list[str]:
    text = DOCS.read_text() if DOCS.exists() else ""
    section = text.split("<!-- precision:start -->")[-1].split("<!-- precision:end -->")[0]
    return [line for line in section.splitlines() if line.startswith(prefix)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=16, help="epochs of the phantom model (default 16)")
    parser.add_argument("--trained-only", action="store_true", help="only the trained models (no timings)")
    parser.add_argument("--weights", type=Path, help="official weights folder (TOTALSEG_WEIGHTS_PATH layout)")
    parser.add_argument("--no-write", action="store_true", help="print the tables, leave docs/benchmarks.md")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    seeded = None if args.trained_only else seeded_rows(args.repeats)
    text = markdown(seeded, trained_rows(args.epochs, args.weights), args.repeats, args.epochs)
    print(text)
    if not args.no_write:
        write_section("precision", text)


if __name__ == "__main__":
    main()
