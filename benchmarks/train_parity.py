"""A model trained by ``totalseg train`` run by nnU-Net's own predictor: the same masks as ours?

Usage::

    python benchmarks/train_parity.py                         # train a small phantom model, compare
    python benchmarks/train_parity.py --model-dir MODEL_DIR --images DIR   # an existing model

Trains a small model on CT-like phantoms (or takes ``--model-dir``), segments the held-out phantoms
with ``totalseg segment --model-dir`` and with ``nnunetv2``'s ``nnUNetPredictor`` in the official
tool's venv (created on first use under ``.bench/``), and compares the label maps voxel by voxel.
Results go into docs/benchmarks.md (section ``train-parity``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from harness import BENCH_DIR, machine, official_venv, write_section

WORK = BENCH_DIR / "train-parity"
TOTALSEG = str(Path(sys.executable).parent / "totalseg")

# Runs inside the official venv: nnU-Net's predictor on each image, CPU, Gaussian tiles at step 0.5.
OFFICIAL_PREDICT = """
import sys, torch
from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
folder, out_dir, *images = sys.argv[1:]
torch.set_num_threads(2)
predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=True,
                            perform_everything_on_device=False, device=torch.device("cpu"), verbose=False,
                            allow_tqdm=False)
predictor.initialize_from_trained_model_folder(folder, use_folds=(0,), checkpoint_name="checkpoint_final.pth")
outputs = [out_dir + "/" + p.split("/")[-1].replace("_0000.nii.gz", "") for p in images]
predictor.predict_from_files([[p] for p in images], outputs, save_probabilities=False, overwrite=True,
                             num_processes_preprocessing=1, num_processes_segmentation_export=1)
"""


def train_phantom_model(epochs: int) -> tuple[Path, list[Path]]:
    from totalseg.training.phantom import write_phantom_dataset

    raw = write_phantom_dataset(WORK / "Dataset900_Phantom", n_train=10, n_test=4, shape=(40, 40, 40), seed=1)
    out = WORK / "model"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([TOTALSEG, "train", str(raw), "--out", str(out), "--config", "3mm", "--epochs", str(epochs),
                    "--iterations", "25", "--val-iterations", "2", "--patch-size", "32", "32", "32",
                    "--batch-size", "2", "--features", "8", "--max-features", "32", "-d", "cpu", "-q",
                    "--threads", "1", "--no-validation"], check=True)
    return out, sorted((raw / "imagesTs").glob("*_0000.nii.gz"))


def model_folder(path: Path) -> Path:
    return path if (path / "plans.json").is_file() else next(p.parent for p in path.glob("*/plans.json"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, help="an existing model folder (default: train one)")
    parser.add_argument("--images", type=Path, help="folder of <case>_0000.nii.gz images (with --model-dir)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs for the phantom model (default 4)")
    args = parser.parse_args()
    if args.model_dir:
        model, images = args.model_dir, sorted(args.images.glob("*_0000.nii.gz"))
    else:
        model, images = train_phantom_model(args.epochs)
    folder = model_folder(model)
    ours_dir, official_dir = WORK / "pred_ours", WORK / "pred_official"
    for d in (ours_dir, official_dir):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    start = time.perf_counter()
    for image in images:
        case = image.name[: -len("_0000.nii.gz")]
        subprocess.run([TOTALSEG, "segment", "-i", str(image), "-o", str(ours_dir / f"{case}.nii.gz"), "--ml",
                        "--model-dir", str(folder), "-d", "cpu", "-q"], check=True)
    ours_s = time.perf_counter() - start
    python = official_venv() / "python"
    start = time.perf_counter()
    subprocess.run([str(python), "-c", OFFICIAL_PREDICT, str(folder), str(official_dir), *map(str, images)],
                   check=True)
    official_s = time.perf_counter() - start
    rows, total_diff, total = [], 0, 0
    for image in images:
        case = image.name[: -len("_0000.nii.gz")]
        a = np.asanyarray(nib.load(ours_dir / f"{case}.nii.gz").dataobj).astype(np.int16)
        b = np.asanyarray(nib.load(official_dir / f"{case}.nii.gz").dataobj).astype(np.int16)
        diff = int((a != b).sum()) if a.shape == b.shape else a.size
        total_diff, total = total_diff + diff, total + a.size
        rows.append(f"| {case} | {a.shape} | {np.unique(a).tolist()} | {diff} |")
    labels = json.loads((folder / "dataset.json").read_text())["labels"]
    text = "\n".join([
        "## A `totalseg train` model in nnU-Net's predictor",
        "",
        f"Model: `{folder.name}` ({len(labels) - 1} classes), {len(images)} images; "
        f"`benchmarks/train_parity.py`. Machine: {machine()}.",
        "",
        "| case | shape | labels (ours) | voxels that differ |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Voxel agreement: {100 * (1 - total_diff / total):.4f} % ({total_diff} of {total} differ). "
        f"Time: ours {ours_s:.1f} s (one process per case), nnunetv2 {official_s:.1f} s (one process).",
    ])
    write_section("train-parity", text)
    print(text)
    sys.exit(0 if total_diff == 0 else 1)


if __name__ == "__main__":
    main()
