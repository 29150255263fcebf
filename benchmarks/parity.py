"""Masks of totalseg against the official TotalSegmentator 2.18.0, same inputs, same seeded weights.

Usage::

    python benchmarks/parity.py                 # all cases and plans variants, into docs/benchmarks.md
    python benchmarks/parity.py --cases ct-fast-ml mr-fast --plans nibabel-reorient

Both tools read one weights folder of seeded random weights with the official architectures
(full size: 16.6 M parameters for 297), so the code paths are the ones users run with the real
weights. Each case runs under several plans variants of the same weights (``harness.PLANS_VARIANTS``:
the SimpleITK reader, ``NibabelIOWithReorient``, and ``NibabelIO`` with ``transpose_forward``
[2, 0, 1]), because the real weights' plans may carry any of them. The official tool runs in its
own venv (created on first use under ``.bench/``).
Per-class outputs are compared file by file (names, dtype, shape, affine, voxels); ``--ml`` outputs
voxel by voxel plus the label-name extension.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from harness import (
    BENCH_DIR,
    PLANS_VARIANTS,
    ROOT,
    fresh_output,
    machine,
    official_venv,
    offline_env,
    plans_variant,
    seeded_weights,
    segment_commands,
    timed_run,
    write_section,
)

SHARED_CT = ROOT.parent / "shared" / "data" / "ct_small_3mm.nii.gz"
INPUTS = BENCH_DIR / "inputs"


@dataclass(frozen=True)
class Case:
    name: str
    make_input: Callable[[], Path]
    args: tuple[str, ...]
    models: tuple[int, ...]
    what: str

    @property
    def ml(self) -> bool:
        return "--ml" in self.args


def ct_small() -> Path:
    return SHARED_CT


def oblique_lps() -> Path:
    """The shared CT stored LPS, axes permuted, anisotropic and rotated 12 degrees about z."""
    img = nib.load(SHARED_CT)
    data = np.asanyarray(img.dataobj)[::-1, ::-1].transpose(1, 0, 2)
    angle = np.deg2rad(12)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.array([[0, -1, 0], [-1, 0, 0], [0, 0, 1]]) @ np.diag([2.6, 3.4, 2.5])
    affine[:3, 3] = [120.0, 95.0, -40.0]
    return _save(nib.Nifti1Image(np.ascontiguousarray(data), affine), "ct_oblique_lps.nii.gz")


def tall_stack() -> Path:
    """The shared CT three times along z (90 slices), for the 3-slab split."""
    img = nib.load(SHARED_CT)
    data = np.asanyarray(img.dataobj)
    stack = np.concatenate([data, data[:, :, ::-1], data], axis=2)
    return _save(nib.Nifti1Image(stack, img.affine), "ct_tall_90.nii.gz")


def center_64() -> Path:
    """The central 64 x 64 x 30 voxels of the shared CT: one 128^3 tile per 1.5 mm model."""
    img = nib.load(SHARED_CT)
    x0, y0 = (img.shape[0] - 64) // 2, (img.shape[1] - 64) // 2
    return _save(img.slicer[x0:x0 + 64, y0:y0 + 64, :], "ct_center_64.nii.gz")


def mr_like() -> Path:
    """The shared CT's anatomy with MR-like intensities (the MR models z-score each image)."""
    img = nib.load(SHARED_CT)
    data = np.clip((np.asanyarray(img.dataobj).astype(np.float32) + 1000) / 3, 0, None).astype(np.int16)
    return _save(nib.Nifti1Image(data, img.affine), "mr_like.nii.gz")


def inconsistent_header() -> Path:
    """The shared CT with an sform of 3 mm voxels but a pixdim of 1.0 x 1.2 x 2.0 mm and no qform:
    nibabel's affine and its header zooms disagree (the official tool resamples by the affine, as it
    rebuilds the image from it; its statistics read the zooms)."""
    img = nib.load(SHARED_CT)
    out = nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine)
    out.header.set_qform(None, code=0)
    out.header.set_sform(img.affine, code=2)
    out.header["pixdim"][1:4] = [1.0, 1.2, 2.0]
    path = INPUTS / "ct_inconsistent_header.nii.gz"
    INPUTS.mkdir(parents=True, exist_ok=True)
    out.to_filename(path)
    if not np.allclose(nib.load(path).header.get_zooms(), (1.0, 1.2, 2.0)):
        raise SystemExit("nibabel rewrote the pixdim of the inconsistent-header input")
    return path


def _save(img: nib.Nifti1Image, name: str) -> Path:
    INPUTS.mkdir(parents=True, exist_ok=True)
    path = INPUTS / name
    nib.save(img, path)
    return path


CASES = [
    Case("ct-fast", ct_small, ("--fast",), (297,), "CT `--fast`, per-class files, RAS input"),
    Case("ct-fast-ml", ct_small, ("--fast", "--ml"), (297,), "CT `--fast --ml`, RAS input"),
    Case("ct-fast-ml-oblique", oblique_lps, ("--fast", "--ml"), (297,),
         "CT `--fast --ml`, LPS, permuted axes, anisotropic, oblique"),
    Case("ct-fast-ml-header", inconsistent_header, ("--fast", "--ml"), (297,),
         "CT `--fast --ml`, header zooms disagree with the sform"),
    Case("ct-fast-split", tall_stack, ("--fast", "--ml", "--force_split"), (297,),
         "CT `--fast --ml --force_split` (3 z-slabs), 90 slices"),
    Case("ct-fastest", ct_small, ("--fastest",), (298,), "CT `--fastest`, per-class files"),
    Case("ct-body-seg", ct_small, ("--fast", "--ml", "--body_seg"), (297, 300), "CT `--fast --ml --body_seg`"),
    Case("ct-full-ml", center_64, ("--ml",), (291, 292, 293, 294, 295), "CT full resolution, 5 part models, `--ml`"),
    Case("ct-roi", center_64, ("--ml", "--roi_subset", "liver", "spleen", "aorta"), (298, 291),
         "CT `--roi_subset liver spleen aorta` (6 mm crop, then part 291 only)"),
    Case("mr-fast", mr_like, ("--task", "total_mr", "--fast"), (852,), "MR `--fast`, per-class files"),
    Case("mr-fast-ml", mr_like, ("--task", "total_mr", "--fast", "--ml"), (852,), "MR `--fast --ml`"),
]


def run_case(case: Case, variant: str, official_bin: Path, workdir: Path) -> dict:
    env = offline_env(plans_variant(seeded_weights(sorted({*case.models})), variant))
    image = case.make_input()
    outputs = {}
    for tool, cmd in segment_commands(official_bin):
        out = workdir / variant / case.name / (f"{tool}.nii.gz" if case.ml else tool)
        fresh_output(out)
        result = timed_run([*cmd, "-i", str(image), "-o", str(out), "-d", "cpu", *case.args], env)
        if result.returncode != 0:
            raise SystemExit(f"{tool} failed on {case.name}:\n{result.output[-3000:]}")
        outputs[tool] = (out, result)
    compare = compare_ml if case.ml else compare_folders
    report = compare(outputs["official"][0], outputs["ours"][0])
    report["official_s"], report["ours_s"] = outputs["official"][1].wall_s, outputs["ours"][1].wall_s
    return report


def compare_ml(official: Path, ours: Path) -> dict:
    from totalseg.io.nifti_ext import load_label_map

    a, b = nib.load(official), nib.load(ours)
    same_meta = (a.shape == b.shape and a.get_data_dtype() == b.get_data_dtype()
                 and np.allclose(a.affine, b.affine, atol=1e-5))
    x, y = np.asanyarray(a.dataobj), np.asanyarray(b.dataobj)
    return {"files": "1/1" if same_meta and np.array_equal(x, y) else "0/1", "agreement": float((x == y).mean()),
            "min_dice": _min_dice(x, y), "meta": same_meta and load_label_map(a) == load_label_map(b)}


def compare_folders(official: Path, ours: Path) -> dict:
    names = sorted(p.name for p in official.glob("*.nii.gz"))
    ours_names = sorted(p.name for p in ours.glob("*.nii.gz"))
    identical, equal_voxels, total_voxels, dices, meta = 0, 0, 0, [], names == ours_names
    for name in names:
        a, b = nib.load(official / name), nib.load(ours / name)
        meta &= a.shape == b.shape and a.get_data_dtype() == b.get_data_dtype() and np.allclose(a.affine, b.affine)
        x, y = np.asanyarray(a.dataobj), np.asanyarray(b.dataobj)
        identical += bool(np.array_equal(x, y))
        equal_voxels += int((x == y).sum())
        total_voxels += x.size
        if x.any() or y.any():
            dices.append(2 * np.logical_and(x, y).sum() / (x.astype(bool).sum() + y.astype(bool).sum()))
    return {"files": f"{identical}/{len(names)}", "agreement": equal_voxels / max(total_voxels, 1),
            "min_dice": min(dices, default=1.0), "meta": meta}


def _min_dice(x: np.ndarray, y: np.ndarray) -> float:
    dices = []
    for label in np.union1d(np.unique(x), np.unique(y)):
        if label == 0:
            continue
        a, b = x == label, y == label
        dices.append(2 * np.logical_and(a, b).sum() / (a.sum() + b.sum()))
    return min(dices, default=1.0)


def markdown(rows: list[tuple[Case, str, dict]]) -> str:
    lines = [
        "## Parity with the official tool",
        "",
        f"`python benchmarks/parity.py`: totalseg against TotalSegmentator 2.18.0 (nnunetv2 2.8.1) on the same "
        "inputs and the same full-size seeded random weights of the official architectures, CPU. "
        f"Machine: {machine()}.",
        "",
        "| case | plans | identical files | voxel agreement | min Dice over labels | names, dtype, shape, "
        "affine, label names |",
        "|---|---|---|---|---|---|",
    ]
    for case, variant, r in rows:
        lines.append(f"| {case.what} | {variant} | {r['files']} | {100 * r['agreement']:.4f} % | "
                     f"{r['min_dice']:.4f} | {'same' if r['meta'] else 'DIFFER'} |")
    lines += ["", "Inputs: the shared 122x101x30 CT at 3 mm; its LPS-stored, axis-permuted, 2.6x3.4x2.5 mm, "
              "12-degree oblique copy; a 90-slice stack of it; its central 64x64x30 voxels (one 128^3 tile per "
              "1.5 mm model); the CT with header zooms that disagree with its sform; and an MR-like intensity "
              "copy for the MR model. Plans variants of the same weights: `sitk` (SimpleITKIO, identity transpose, "
              "as our seeded weights are written), `nibabel-reorient` (NibabelIOWithReorient, the reader the "
              "official dataset conversion sets), `nibabel-transposed` (NibabelIO with transpose_forward "
              "[2, 0, 1]; patch size, spacing, kernels and strides permuted with it). Timings are in the speed "
              "section."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=[c.name for c in CASES], help="default: all")
    parser.add_argument("--plans", nargs="+", choices=list(PLANS_VARIANTS), default=list(PLANS_VARIANTS),
                        help="plans variants of the seeded weights (default: all)")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/benchmarks.md")
    args = parser.parse_args()
    official_bin = official_venv()
    workdir = BENCH_DIR / "parity"
    rows = []
    for variant in args.plans:
        for case in CASES:
            if args.cases and case.name not in args.cases:
                continue
            print(f"{case.name} [{variant}] ...", file=sys.stderr, flush=True)
            report = run_case(case, variant, official_bin, workdir)
            print(f"  {report}", file=sys.stderr, flush=True)
            rows.append((case, variant, report))
    table = markdown(rows)
    print(table)
    if not args.no_write and not args.cases and args.plans == list(PLANS_VARIANTS):
        write_section("parity", table)


if __name__ == "__main__":
    main()
