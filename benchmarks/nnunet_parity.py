"""totalseg --model-dir against nnUNetv2_predict itself, on model folders built with nnU-Net's own code.

Usage::

    python benchmarks/nnunet_parity.py                       # every row, table into docs/benchmarks.md
    python benchmarks/nnunet_parity.py --rows reader-nibabel step-0.8 --no-write
    python benchmarks/nnunet_parity.py --write-golden        # rebuild tests/data/nnunet_golden

The matrix lives in ``benchmarks/nnunet_reference.py``, which runs in the official tool's venv
(nnunetv2 2.8.1): per row it writes plans.json and dataset.json, builds the network with the
trainer's builder, saves seeded checkpoints with the keys nnU-Net writes, writes a NIfTI phantom
and runs ``nnUNetPredictor`` (Gaussian, no mirroring, CPU, the row's tile step and folds). Here
``totalseg segment --ml --model-dir`` runs on the same folder and input, and the two label maps are
compared voxel by voxel (shape, voxels, affine within 1e-4). A row nnU-Net cannot run shows its
error; totalseg should refuse the same rows with one line.

``--write-golden`` keeps the golden rows (small inputs, nnU-Net's outputs) as test fixtures under
``tests/data/nnunet_golden`` for ``tests/engine/test_nnunet_golden.py``; the data is seeded, so the
command rebuilds the same files.
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
from harness import BENCH_DIR, ROOT, machine, official_venv, write_section

WORKDIR = BENCH_DIR / "nnunet_parity"
GOLDEN = ROOT / "tests" / "data" / "nnunet_golden"
REFERENCE = Path(__file__).resolve().with_name("nnunet_reference.py")
DEFAULT_STEP = 0.5


def run_reference(rows: list[str] | None, *, golden: bool, out: Path) -> dict:
    """Build the rows and run nnU-Net on them in the official venv; its manifest (versions, rows)."""
    manifest = out / "manifest.json"
    manifest.unlink(missing_ok=True)
    cmd = [str(official_venv() / "python"), str(REFERENCE), "--out", str(out)]
    cmd += ["--rows", *rows] if rows else []
    cmd += ["--golden"] if golden else []
    # nnU-Net sets 8 torch threads; on a small machine that costs seconds per row, not bits.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "nnUNet_def_n_proc": "1"}
    subprocess.run(cmd, env=env, check=True)
    return json.loads(manifest.read_text())


def totalseg_args(entry: dict) -> list[str]:
    """The ``totalseg segment`` options a row needs beyond the defaults (tile step, folds)."""
    args = [] if entry["step"] == DEFAULT_STEP else ["--step_size", str(entry["step"])]
    return args + (["--folds", *map(str, entry["folds"])] if entry["folds"] else [])


def run_totalseg(entry: dict, ref: Path, out: Path) -> dict:
    """``totalseg segment --ml --model-dir`` on the row's input: output path or its one-line error."""
    out.unlink(missing_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).parent / "totalseg"
    cmd = [str(exe), "segment", "-i", str(ref / entry["input"]), "-o", str(out), "--ml",
           "--model-dir", str(ref / entry["model_dir"]), "-d", "cpu", "--no-download", "-q", *totalseg_args(entry)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
        message = lines[-1].removeprefix("totalseg: error: ") if lines else f"exit code {proc.returncode}"
        message = message.replace(f"{ROOT}{os.sep}", "")  # paths in the docs are relative to the repository
        return {"output": None, "error": message, "seconds": seconds}
    return {"output": out, "error": None, "seconds": seconds}


def compare(expected: Path, ours: Path) -> dict:
    """Voxel agreement and whether the label maps are identical (shape, voxels, affine within 1e-4)."""
    a, b = nib.load(expected), nib.load(ours)
    if a.shape != b.shape:
        return {"agreement": None, "identical": False, "note": f"shape {b.shape} != {a.shape}"}
    x, y = np.asanyarray(a.dataobj), np.asanyarray(b.dataobj)
    same_affine = np.allclose(a.affine, b.affine, rtol=0, atol=1e-4)
    return {"agreement": float((x == y).mean()), "identical": bool(np.array_equal(x, y)) and same_affine,
            "note": "" if same_affine else "affine differs"}


def verdict(entry: dict, ours: dict, ref: Path) -> dict:
    """One table row's result from nnU-Net's entry and totalseg's run."""
    if entry["error"] and ours["error"]:
        return {"agreement": None, "identical": True, "note": "both refuse"}
    if entry["error"]:
        return {"agreement": None, "identical": False, "note": "nnU-Net refuses, totalseg ran"}
    if ours["error"]:
        return {"agreement": None, "identical": False, "note": ""}
    return compare(ref / entry["expected"], ours["output"])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(results: list[tuple[dict, dict, dict]], versions: dict) -> str:
    """The docs/benchmarks.md section: what was compared, the machine, one line per row."""
    same = sum(v["identical"] for _, _, v in results)
    lines = [
        "## Identical to nnU-Net for every plans.json",
        "",
        "`python benchmarks/nnunet_parity.py`: `totalseg segment --ml --model-dir` against nnU-Net's own "
        f"`nnUNetPredictor` (nnunetv2 {versions['nnunetv2']}, dynamic_network_architectures "
        f"{versions['dynamic_network_architectures']}, torch {versions['torch']}; tile step 0.5 unless the row "
        "says otherwise, Gaussian weighting, no mirroring, CPU), on model folders and inputs that "
        "`benchmarks/nnunet_reference.py` builds with nnU-Net's code: plans.json and dataset.json per row, "
        "the network from the trainer's builder with seeded weights (about 50k parameters), checkpoints with "
        "nnU-Net's keys, and a NIfTI phantom (blobs, a non-zero background, an exact-zero margin that the crop "
        "to non-zero removes; int16 CT or float32 MR) of at most 48 voxels a side. Each row changes one or two "
        "things from the base row (SimpleITKIO, RAS, 1.3x1.3x1.6 mm to 1.5 mm, CTNormalization, PlainConvUNet "
        "[4, 8, 12, 12], patch 24^3, fold 0). Identical: same shape, same labels in every voxel, affines "
        f"within 1e-4. Machine: {machine()}.",
        "",
        "| row | what varies | nnU-Net | totalseg | voxel agreement | identical |",
        "|---|---|---|---|---|---|",
    ]
    for entry, ours, v in results:
        tiles = "x".join(map(str, entry.get("tiles", ())))
        ref = f"error: `{_cell(entry['error'])}`" if entry["error"] else f"labels {entry['labels']}, {tiles} tiles"
        tool = f"error: `{_cell(ours['error'])}`" if ours["error"] else "ran"
        agree = "-" if v["agreement"] is None else f"{100 * v['agreement']:.4f} %"
        same_text = ("yes" if v["identical"] else "no") + (f" ({v['note']})" if v["note"] else "")
        lines.append(f"| `{entry['name']}` | {_cell(entry['what'])} | {ref} | {tool} | {agree} | {same_text} |")
    lines += ["", f"{same} of {len(results)} rows identical. The golden rows are kept as test fixtures "
              "(`tests/data/nnunet_golden`, `tests/engine/test_nnunet_golden.py`)."]
    return "\n".join(lines)


def write_golden_case(entry: dict, ref: Path, dest: Path) -> None:
    """input.nii.gz, model/ (plans, dataset, fold_N checkpoints), expected.nii.gz and case.json."""
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "model").mkdir(parents=True)
    shutil.copyfile(ref / entry["input"], dest / "input.nii.gz")
    model = ref / entry["model_dir"]
    for name in ("plans.json", "dataset.json"):
        shutil.copyfile(model / name, dest / "model" / name)
    for fold in sorted(model.glob("fold_*")):
        (dest / "model" / fold.name).mkdir()
        shutil.copyfile(fold / "checkpoint_final.pth", dest / "model" / fold.name / "checkpoint_final.pth")
    case = {"args": totalseg_args(entry), "what": entry["what"]}
    if entry["error"]:
        case["nnunet_error"] = entry["error"]
    else:
        shutil.copyfile(ref / entry["expected"], dest / "expected.nii.gz")
    (dest / "case.json").write_text(json.dumps(case, indent=1) + "\n")


def write_golden(entries: list[dict], versions: dict, ref: Path, *, complete: bool) -> None:
    """Every golden row's case folder and the README; with ``complete``, folders of other rows go."""
    GOLDEN.mkdir(parents=True, exist_ok=True)
    names = {entry["name"] for entry in entries}
    if complete:
        for stale in (p for p in GOLDEN.iterdir() if p.is_dir() and p.name not in names):
            shutil.rmtree(stale)
    for entry in entries:
        write_golden_case(entry, ref, GOLDEN / entry["name"])
    cases = sorted(p for p in GOLDEN.iterdir() if (p / "case.json").is_file())
    (GOLDEN / "README.md").write_text(golden_readme(cases, versions))
    size = sum(f.stat().st_size for f in GOLDEN.rglob("*") if f.is_file())
    print(f"golden fixtures: {len(cases)} cases, {size / 2**20:.2f} MiB in {GOLDEN.relative_to(ROOT)}",
          file=sys.stderr)


def golden_readme(cases: list[Path], versions: dict) -> str:
    """What the fixtures are, how they were made and how to rebuild them."""
    made_with = ", ".join(f"{name} {version}" for name, version in versions.items())
    lines = [
        "# nnU-Net golden cases",
        "",
        "Small inputs, nnU-Net v2 model folders and **nnU-Net's own predictions** on them.",
        "`tests/engine/test_nnunet_golden.py` runs `totalseg.segment(..., model_dir=<case>/model)` on each case",
        "(nnunetv2 need not be installed) and requires the same labels in every voxel as `expected.nii.gz`.",
        "",
        "Each case folder holds:",
        "",
        "- `input.nii.gz`: a seeded phantom (blobs of distinct intensities, a non-zero background, an exact-zero",
        "  margin), int16 CT or float32 MR, RAS, LPS or oblique, at most 48 voxels a side;",
        "- `model/`: `plans.json`, `dataset.json` and `fold_N/checkpoint_final.pth`, a model folder as nnU-Net",
        "  writes it (network built by nnU-Net's trainer from the plans, seeded random weights of about 50k",
        "  parameters, checkpoint keys as nnU-Net's trainer saves them);",
        "- `expected.nii.gz`: what `nnUNetPredictor` (Gaussian weighting, no mirroring, CPU) wrote for the input;",
        "- `case.json`: `args`, the extra `totalseg segment` options that match nnU-Net's run (`--step_size`,",
        "  `--folds`), `what` the case covers, and for a case nnU-Net itself refuses, `nnunet_error`",
        "  (no `expected.nii.gz`; totalseg must refuse it too).",
        "",
        "## How they were made",
        "",
        "```",
        "python benchmarks/nnunet_parity.py --write-golden",
        "```",
        "",
        "from the repository root in totalseg's venv. `benchmarks/nnunet_reference.py` builds every case with",
        "nnU-Net's own code in the official tool's venv (`benchmarks/harness.py: official_venv()`), never",
        "with totalseg's; the rows and seeds are fixed there, so the command rebuilds the same files.",
        f"Made with {made_with}.",
        "",
        "Licence: generated data, Apache-2.0 like the project.",
        "",
        "| case | what it covers | totalseg args |",
        "|---|---|---|",
    ]
    for case in cases:
        spec = json.loads((case / "case.json").read_text())
        what = spec["what"] + (f" (nnU-Net: `{spec['nnunet_error']}`)" if "nnunet_error" in spec else "")
        lines.append(f"| `{case.name}` | {_cell(what)} | `{' '.join(spec['args'])}` |" if spec["args"]
                     else f"| `{case.name}` | {_cell(what)} | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", metavar="NAME", help="default: every row (names in nnunet_reference.py)")
    parser.add_argument("--write-golden", action="store_true", help="run the golden rows, rewrite the fixtures")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/benchmarks.md")
    args = parser.parse_args()
    ref = WORKDIR / "reference"
    manifest = run_reference(args.rows, golden=args.write_golden, out=ref)
    results = []
    for entry in manifest["rows"]:
        ours = run_totalseg(entry, ref, WORKDIR / "totalseg" / f"{entry['name']}.nii.gz")
        v = verdict(entry, ours, ref)
        print(f"{entry['name']}: {'identical' if v['identical'] else 'DIFFERENT'} "
              f"{ours['error'] or ''} ({ours['seconds']:.1f} s)", file=sys.stderr, flush=True)
        results.append((entry, ours, v))
    table = markdown(results, manifest["versions"])
    print(table)
    if args.write_golden:
        write_golden(manifest["rows"], manifest["versions"], ref, complete=not args.rows)
    elif not args.no_write and not args.rows:
        write_section("nnunet-parity", table)


if __name__ == "__main__":
    main()
