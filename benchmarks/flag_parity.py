"""The official segment flags: totalseg against TotalSegmentator 2.18.0, one row per flag.

Usage::

    python benchmarks/flag_parity.py            # into docs/benchmarks.md
    python benchmarks/flag_parity.py --no-write

Both tools run ``--fast`` (small seeded networks in the official layout, the same folder) on the
repository's small CT and on an LPS-stored, axis-permuted, anisotropic copy of it, with one flag
each; outputs are compared voxel by voxel (``--ml``: and the label names), statistics.json key by
key, the run report on every key but paths, versions and runtime.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
from harness import (
    BENCH_DIR,
    ROOT,
    machine,
    official_venv,
    offline_env,
    segment_commands,
    timed_run,
    write_section,
)
from parity import compare_folders, compare_ml

CT = ROOT / "tests" / "data" / "ct_small_3mm.nii.gz"
WORK = BENCH_DIR / "flag-parity"
WEIGHTS = BENCH_DIR / "flag-weights"
SEED = 20
# name, flags, output kind (ml: one file, folder: per-class masks, stats: statistics.json only), what
CASES = [
    ("-rmb", ["--ml", "-rmb"], "ml", "`--remove_small_blobs` (200 mm3)"),
    ("-rmb 400", ["--ml", "-rmb", "400"], "ml", "`--remove_small_blobs 400`"),
    ("-v1o --ml", ["--ml", "-v1o"], "ml", "`--v1_order` with `--ml` (v1 ids and names)"),
    ("-v1o", ["-v1o"], "folder", "`--v1_order` per class (unchanged, as official)"),
    ("-sl", ["--ml", "-sl"], "ml", "`--save_lowres` (3 mm grid, input axis order)"),
    ("-ho", ["--ml", "-ho"], "ml", "`--higher_order_resampling` (nnU-Net resamples; logits back in boxes)"),
    ("LEGACY", ["--ml", "--higher_order_resampling_LEGACY"], "ml",
     "`--higher_order_resampling_LEGACY` (labels back one at a time, linearly)"),
    ("-ss -s", ["-ss", "-s"], "stats", "`--skip_saving --statistics` (statistics.json only)"),
    ("-rp", ["--ml", "-rp"], "report", "`--report run.json` (keys and values but paths, versions, runtime)"),
    ("-sp", ["--ml", "-sp"], "probabilities",
     "`--save_probabilities` (the .npz array bit for bit, the .pkl properties)"),
    ("-r", ["-r"], "radiomics", "`--radiomics` (statistics_radiomics.json as text, and the masks)"),
]


def lps_input() -> Path:
    img = nib.load(CT)
    data = np.ascontiguousarray(np.asanyarray(img.dataobj)[::-1, :, :].transpose(1, 0, 2))
    affine = np.eye(4)
    affine[:3, :3] = [[0, -1, 0], [-2.5, 0, 0], [0, 0, 3.2]]
    affine[:3, 3] = [100, 50, -20]
    path = WORK / "inputs" / "ct_lps_aniso.nii.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, affine), path)
    return path


def run_case(flags: list[str], kind: str, image: Path, official_bin: Path, env: dict, where: Path) -> dict:
    outputs = {}
    for tool, cmd in segment_commands(official_bin):
        folder = where / tool
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        out = folder / "seg.nii.gz" if kind in ("ml", "report", "probabilities") else folder / "masks"
        named = {"-rp": f"-rp={folder / 'run.json'}", "-sp": f"-sp={folder / 'probs.npz'}"}
        args = [named.get(a, a) for a in flags]
        result = timed_run([*cmd, "-i", str(image), "-o", str(out), "-d", "cpu", "--fast", *args], env, poll_s=None)
        if result.returncode != 0:
            return {"error": f"{tool} failed: {result.output.strip().splitlines()[-1][:160]}"}
        outputs[tool] = folder
    return compare(kind, outputs["official"], outputs["ours"])


def compare(kind: str, official: Path, ours: Path) -> dict:
    if kind == "ml":
        return compare_ml(official / "seg.nii.gz", ours / "seg.nii.gz")
    if kind == "folder":
        return compare_folders(official / "masks", ours / "masks")
    if kind == "stats":
        a, b = (json.loads((p / "masks" / "statistics.json").read_text()) for p in (official, ours))
        masks = [sorted(p.name for p in (d / "masks").iterdir()) for d in (official, ours)]
        same = a == b and masks[0] == masks[1] == ["statistics.json"]
        return {"files": "1/1" if same else "0/1", "agreement": float(same), "meta": masks[0] == masks[1]}
    if kind == "probabilities":
        return compare_probabilities(official, ours)
    if kind == "radiomics":
        masks = compare_folders(official / "masks", ours / "masks")
        same = (official / "masks" / "statistics_radiomics.json").read_text() == \
            (ours / "masks" / "statistics_radiomics.json").read_text()
        return {"files": "1/1" if same else "0/1", "agreement": float(same),
                "meta": masks["meta"] and masks["agreement"] == 1}
    skip = {"input", "output", "runtime_seconds", "torch_version", "nnunetv2_version", "totalseg_version"}
    a, b = (json.loads((p / "run.json").read_text()) for p in (official, ours))
    same = {k: v for k, v in a.items() if k not in skip} == {k: v for k, v in b.items() if k not in skip}
    return {"files": "1/1" if same else "0/1", "agreement": float(same), "meta": list(a) == list(b)[:len(a)]}


def compare_probabilities(official: Path, ours: Path) -> dict:
    """The two -sp arrays bit for bit (agreement: share of equal values) and the properties equal."""
    import pickle

    a, b = (np.load(p / "probs.npz")["probabilities"] for p in (official, ours))
    props = [pickle.loads((p / "probs.pkl").read_bytes()) for p in (official, ours)]  # noqa: S301 - our own runs
    try:
        np.testing.assert_equal(props[0], props[1])
        same_props = True
    except AssertionError:
        same_props = False
    equal = a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
    agreement = float((a == b).mean()) if a.shape == b.shape else 0.0
    labels = compare_ml(official / "seg.nii.gz", ours / "seg.nii.gz")
    return {"files": "1/1" if equal and labels["agreement"] == 1 else "0/1", "agreement": agreement,
            "meta": same_props and a.dtype == b.dtype and a.shape == b.shape}


def markdown(rows: list[tuple[str, str, dict]]) -> str:
    lines = ["## Segment flags against the official tool", "",
             "`python benchmarks/flag_parity.py`: `totalseg segment --fast` and TotalSegmentator 2.18.0 with one "
             "official flag each, same input, same small seeded networks, CPU. Machine: " + machine() + ".", "",
             "| flag | input | identical | voxel / key agreement | names, dtype, shape, affine (keys) |",
             "|---|---|---|---|---|"]
    for what, image, r in rows:
        if "cells" in r:  # a row kept from the docs table
            lines.append(f"| {what} | {image} | " + " | ".join(r["cells"]) + " |")
            continue
        if "error" in r:
            lines.append(f"| {what} | {image} | {r['error']} | | |")
            continue
        lines.append(f"| {what} | {image} | {r['files']} | {100 * r['agreement']:.4f} % | "
                     f"{'same' if r['meta'] else 'DIFFER'} |")
    lines += ["", "Inputs: the repository's small CT (3 mm, RAS) and an LPS-stored, axis-permuted 2.5 x 1 x "
              "3.2 mm copy. `-p` is not compared: totalseg draws slices where the official tool renders "
              "3-D surfaces (the file name is the official one). The companion commands `combine` and "
              "`crop-to-body` are compared by `benchmarks/companion_parity.py` (tests/data/companion_golden), "
              "`phase` and `modality` by `benchmarks/phase_golden.py` (tests/data/phase_golden)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/benchmarks.md")
    parser.add_argument("--flags", nargs="+", choices=[c[0] for c in CASES],
                        help="default: all; the other rows of the docs table are kept as they are")
    parser.add_argument("--inputs", nargs="+", choices=["RAS", "LPS"], default=["RAS", "LPS"],
                        help="default: both")
    args = parser.parse_args()
    from totalseg.models.synthetic import write_random_weights

    if not (WEIGHTS / "Dataset297_TotalSegmentator_total_3mm_1559subj").is_dir():
        write_random_weights(WEIGHTS, [297], tiny=True, seed=SEED)
    env = offline_env(WEIGHTS)
    official_bin = official_venv()
    rows = []
    images = (("RAS 3 mm", CT), ("LPS permuted anisotropic", lps_input()))
    for label, image in [i for i in images if i[0].split()[0] in args.inputs]:
        for name, flags, kind, what in CASES:
            if args.flags and name not in args.flags:
                continue
            print(f"{name} [{label}] ...", file=sys.stderr, flush=True)
            report = run_case(flags, kind, image, official_bin, env, WORK / label.split()[0] / name.replace(" ", "_"))
            print(f"  {report}", file=sys.stderr, flush=True)
            rows.append((what, label, report))
    if args.flags or len(args.inputs) < 2:
        rows = merged_rows(rows)
    table = markdown(rows)
    print(table)
    if not args.no_write:
        write_section("flag-parity", table)


def merged_rows(new: list[tuple[str, str, dict]]) -> list[tuple[str, str, dict]]:
    """The rows just measured, with the docs table's other rows kept (as table cells), in CASES order."""
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    section = re.search(r"<!-- flag-parity:start -->(.*?)<!-- flag-parity:end -->", text, re.S)
    rows = {(what, image): r for what, image, r in new}
    for line in (section.group(1).splitlines() if section else []):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`") and (cells[0], cells[1]) not in rows:
            rows[(cells[0], cells[1])] = {"cells": cells[2:]}
    order = [c[3] for c in CASES]
    return [(w, i, r) for (w, i), r in sorted(rows.items(), key=lambda kv: (order.index(kv[0][0])
                                                                           if kv[0][0] in order else 99,
                                                                           kv[0][1] != "RAS 3 mm"))]


if __name__ == "__main__":
    main()
