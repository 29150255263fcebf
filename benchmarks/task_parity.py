"""Every open official task: totalseg against TotalSegmentator 2.18.0, same input, same seeded weights.

Usage::

    python benchmarks/task_parity.py                      # every open task, into docs/benchmarks.md
    python benchmarks/task_parity.py --tasks lung_vessels teeth --no-write

Both tools read one weights folder with small seeded random networks in the official layout for
every model a task runs (its rough crop model, its nested or refining task, its own models), so each
task runs its real path: the crop from a rough run, nnU-Net's resampling for tasks without a
spacing, high-resolution configurations, fold ensembles, part merges, auxiliary labels, the
post-processing steps and the derived masks. Per-class outputs are compared file by file (names,
dtype, shape, affine, voxels), ``--ml`` outputs voxel by voxel plus the label-name extension.
The input is a 40 x 40 x 16 voxel block of the repository's small CT at 3 mm (an MR-like copy for
MR tasks), so that the 0.4-0.5 mm tasks stay small.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
from harness import BENCH_DIR, ROOT, machine, official_venv, offline_env, timed_run, write_section
from parity import compare_folders, compare_ml

CT = ROOT / "tests" / "data" / "ct_small_3mm.nii.gz"
INPUTS = BENCH_DIR / "inputs"
WEIGHTS = BENCH_DIR / "task-weights"
SEED = 19
ML_TASKS = ("kidney_cysts", "vertebrae_pp_refined", "headneck_muscles", "teeth", "total_v3")


def block(modality: str) -> Path:
    """A 40 x 40 x 16 block from the middle of the small CT; MR-like intensities for MR tasks."""
    img = nib.load(CT)
    x0, y0, z0 = (img.shape[0] - 40) // 2, (img.shape[1] - 40) // 2, (img.shape[2] - 16) // 2
    part = img.slicer[x0:x0 + 40, y0:y0 + 40, z0:z0 + 16]
    data = np.asanyarray(part.dataobj)
    if modality == "mr":
        data = np.clip((data.astype(np.float32) + 1000) / 3, 0, None).astype(np.int16)
    INPUTS.mkdir(parents=True, exist_ok=True)
    path = INPUTS / f"block_{modality}.nii.gz"
    nib.save(nib.Nifti1Image(data, part.affine), path)
    return path


def open_tasks() -> list[str]:
    from totalseg.models.tasks import TASK_NAMES, get_task

    return [name for name in TASK_NAMES if not get_task(name).license and get_task(name).usable]


def weights_for(tasks: list[str]) -> Path:
    """Tiny seeded networks for every model these tasks run (their crop and refine runs included)."""
    from totalseg.engine.segment import SegmentRequest, needed_models
    from totalseg.models.synthetic import write_random_weights
    from totalseg.models.tasks import get_task

    ids = sorted({m.model_id for name in tasks for m in needed_models(SegmentRequest(get_task(name)))})
    for mid in [mid for mid in ids if not _present(mid)]:
        write_random_weights(WEIGHTS, [mid], tiny=True, seed=SEED + mid)
    return WEIGHTS


def _present(model_id: int) -> bool:
    from totalseg.models.tasks import all_models

    spec = all_models()[model_id]
    return (WEIGHTS / spec.folder / spec.model_subdir / "fold_0" / "checkpoint_final.pth").is_file()


def run_task(name: str, ml: bool, official_bin: Path, env: dict) -> dict:
    from totalseg.models.tasks import get_task

    image = block(get_task(name).modality)
    outputs = {}
    for tool, cmd in (("official", [str(official_bin / "TotalSegmentator")]),
                      ("ours", [str(Path(sys.executable).parent / "totalseg"), "segment", "--no-download"])):
        out = BENCH_DIR / "task-parity" / name / (f"{tool}.nii.gz" if ml else tool)
        shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink(missing_ok=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        args = ["-i", str(image), "-o", str(out), "-d", "cpu", "-ta", name, *(["--ml"] if ml else [])]
        result = timed_run([*cmd, *args], env, poll_s=None)
        if result.returncode != 0:
            return {"error": f"{tool} failed: {result.output.strip().splitlines()[-1][:200]}"}
        outputs[tool] = out
    report = (compare_ml if ml else compare_folders)(outputs["official"], outputs["ours"])
    report["labelled"] = _labelled(outputs["official"], ml)
    return report


def _labelled(out: Path, ml: bool) -> float:
    """Share of voxels the official output labels (a crop that came out empty shows as 0)."""
    files = [out] if ml else sorted(out.glob("*.nii.gz"))
    if not files:
        return 0.0
    union = np.zeros(nib.load(files[0]).shape, bool)
    for path in files:
        union |= np.asanyarray(nib.load(path).dataobj) > 0
    return float(union.mean())


def markdown(rows: list[tuple[str, bool, dict]]) -> str:
    lines = [
        "## Every open task against the official tool",
        "",
        "`python benchmarks/task_parity.py`: each open task of TotalSegmentator 2.18.0 run by both tools on "
        "the same input with the same small seeded networks in the official layout (every model the task "
        f"runs: crop, nested and refining runs included), CPU. Machine: {machine()}.",
        "",
        "| task | output | identical files | voxel agreement | labelled by the official tool | names, dtype, "
        "shape, affine, label names |",
        "|---|---|---|---|---|---|",
    ]
    for name, ml, r in rows:
        if "error" in r:
            lines.append(f"| {name} | {'--ml' if ml else 'per class'} | {r['error']} | | | |")
            continue
        lines.append(f"| {name} | {'--ml' if ml else 'per class'} | {r['files']} | {100 * r['agreement']:.4f} % | "
                     f"{100 * r['labelled']:.1f} % | {'same' if r['meta'] else 'DIFFER'} |")
    lines += ["", "Input: a 40 x 40 x 16 voxel block (3 mm) of the repository's small CT, and an MR-like "
              "copy for MR tasks. The networks are small and random, so the masks are meaningless but "
              "each task's path (crop, resampling, configuration, folds, merges, auxiliary labels, "
              "post-processing, derived masks) is the one users run. Licensed tasks and the two tasks "
              "whose weights the official tool cannot download (`test`, `total_highres_test`) are not "
              "in the table."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", help="default: every open task")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/benchmarks.md")
    args = parser.parse_args()
    tasks = args.tasks or open_tasks()
    env = offline_env(weights_for(tasks))
    official_bin = official_venv()
    rows = []
    for name in tasks:
        for ml in (False, True) if name in ML_TASKS else (False,):
            print(f"{name}{' --ml' if ml else ''} ...", file=sys.stderr, flush=True)
            report = run_task(name, ml, official_bin, env)
            print(f"  {report}", file=sys.stderr, flush=True)
            rows.append((name, ml, report))
    table = markdown(rows)
    print(table)
    if not args.no_write and not args.tasks:
        write_section("task-parity", table)


if __name__ == "__main__":
    main()
