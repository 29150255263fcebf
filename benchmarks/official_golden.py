"""Golden cases from the official TotalSegmentator 2.18.0: small inputs, tiny seeded weights, its outputs.

Usage::

    python benchmarks/official_golden.py        # rebuild tests/data/official_golden

Run in totalseg's venv from anywhere; the official tool runs in its own venv
(``harness.official_venv()``), offline, on CPU. The script

1. cuts five small inputs from the test CT (``tests/data/ct_small_3mm.nii.gz``): a RAS
   crop, the same voxels stored LPS, a permuted, anisotropic, 12-degree oblique copy, a copy whose
   header zooms disagree with its sform, and an MR-like intensity copy;
2. writes tiny seeded weights (``totalseg.models.synthetic``, 32^3 patch, the official spacing) for
   models 297, 298, 300 and 852 in the official folder layout, and their plans variants
   (``harness.PLANS_VARIANTS``: SimpleITKIO, NibabelIOWithReorient, NibabelIO with a transpose);
3. runs the ``TotalSegmentator`` command on each case (``-d cpu`` plus the case's arguments) and keeps
   its output: ``expected.nii.gz`` for ``--ml``, ``expected.npz`` (mask names and arrays) per class.

``tests/engine/test_official_golden.py`` runs totalseg on the same inputs and weights and requires
identical outputs. Inputs and weights are seeded, so the command rebuilds the same files.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from harness import (
    BENCH_DIR,
    OFFICIAL_VERSION,
    PLANS_VARIANTS,
    ROOT,
    fresh_output,
    official_venv,
    offline_env,
    plans_variant,
)
from npz import save_npz

TEST_CT = ROOT / "tests" / "data" / "ct_small_3mm.nii.gz"  # the TotalSegmentator project's test CT
GOLDEN = ROOT / "tests" / "data" / "official_golden"
WORKDIR = BENCH_DIR / "official_golden"
MODELS = (297, 298, 300, 852)
SEED = 40  # model ``m`` gets seed SEED + m (as harness.seeded_weights); 40: 298 finds liver in part of `ras`
CROP = (slice(29, 93), slice(22, 78), slice(0, 30))  # 64 x 56 x 30 voxels of the 122 x 101 x 30 CT


@dataclass(frozen=True)
class Case:
    """One official command: its input, plans variant, arguments beyond ``-i -o -d cpu``, models."""

    name: str
    input: str
    variant: str
    args: tuple[str, ...]
    models: tuple[int, ...]
    what: str
    crop_empty: bool | None = None  # for --roi_subset / --body_seg: whether the rough crop must be empty

    @property
    def ml(self) -> bool:
        return "--ml" in self.args


FAST_ML = ("--fast", "--ml")
OBLIQUE = "permuted axes, 12-degree oblique, 2.6 x 3.4 x 2.5 mm"
HEADER = "sform of 3 mm but pixdim 1.0 x 1.2 x 2.0 mm, no qform"
REORIENT, TRANSPOSED = "NibabelIOWithReorient plans", "NibabelIO plans with transpose_forward [2, 0, 1]"
ROI = ("--fast", "--ml", "--roi_subset", "liver", "spleen")
CASES = [
    Case("fast-ml-ras-sitk", "ras", "sitk", FAST_ML, (297,), "total --fast --ml, RAS input, SimpleITKIO plans"),
    Case("fast-ml-ras-transposed", "ras", "nibabel-transposed", FAST_ML, (297,),
         f"total --fast --ml, RAS input, {TRANSPOSED}"),
    Case("fast-ml-lps-sitk", "lps", "sitk", FAST_ML, (297,), "total --fast --ml, LPS input, SimpleITKIO plans"),
    Case("fast-ml-lps-reorient", "lps", "nibabel-reorient", FAST_ML, (297,),
         f"total --fast --ml, LPS input, {REORIENT}"),
    Case("fast-ml-oblique-sitk", "permuted-oblique-aniso", "sitk", FAST_ML, (297,),
         f"total --fast --ml, {OBLIQUE}, SimpleITKIO plans"),
    Case("fast-ml-oblique-reorient", "permuted-oblique-aniso", "nibabel-reorient", FAST_ML, (297,),
         f"total --fast --ml, {OBLIQUE}, {REORIENT}"),
    Case("fast-ml-oblique-transposed", "permuted-oblique-aniso", "nibabel-transposed", FAST_ML, (297,),
         f"total --fast --ml, {OBLIQUE}, {TRANSPOSED}"),
    Case("fast-ml-header-transposed", "inconsistent-header", "nibabel-transposed", FAST_ML, (297,),
         f"total --fast --ml, {HEADER}, {TRANSPOSED}"),
    Case("fast-classes-header-reorient", "inconsistent-header", "nibabel-reorient", ("--fast",), (297,),
         f"total --fast, one mask file per class, {HEADER}, {REORIENT}"),
    Case("fastest-ml-oblique-reorient", "permuted-oblique-aniso", "nibabel-reorient", ("--fastest", "--ml"),
         (298,), f"total --fastest --ml (6 mm model 298), {OBLIQUE}, {REORIENT}"),
    Case("body-seg-lps-transposed", "lps", "nibabel-transposed", ("--fast", "--ml", "--body_seg"), (300, 297),
         f"total --fast --ml --body_seg (body model 300 at 6 mm crops, then 297), LPS input, {TRANSPOSED}",
         crop_empty=False),
    Case("roi-ras-reorient", "ras", "nibabel-reorient", ROI, (298, 297),
         "total --fast --ml --roi_subset liver spleen: 298 at 6 mm finds liver in part of the image, 297 runs "
         f"on the crop (bbox + 20 mm, 6 voxels) and finds liver; RAS input, {REORIENT}", crop_empty=False),
    Case("roi-header-sitk", "inconsistent-header", "sitk", ROI, (298, 297),
         "total --fast --ml --roi_subset liver spleen on an image whose header zooms disagree with its sform: "
         "the official tool turns the 20 mm crop margin into voxels by the zooms of the image it rebuilds from "
         f"the affine (3 mm), not by the pixdim; {HEADER}, SimpleITKIO plans", crop_empty=False),
    Case("roi-empty-oblique-sitk", "permuted-oblique-aniso", "sitk", ROI, (298,),
         "total --fast --ml --roi_subset liver spleen, deliberately an empty crop: 298 finds neither on this "
         f"input, so the official tool returns an empty label map without running 297; {OBLIQUE}, SimpleITKIO "
         "plans", crop_empty=True),
    Case("mr-fast-ml-sitk", "mr-like", "sitk", ("--task", "total_mr", "--fast", "--ml"), (852,),
         "total_mr --fast --ml (model 852, z-score normalization), MR-like input, SimpleITKIO plans"),
    Case("mr-fast-ml-transposed", "mr-like", "nibabel-transposed", ("--task", "total_mr", "--fast", "--ml"),
         (852,), f"total_mr --fast --ml (model 852), MR-like input, {TRANSPOSED}"),
]


def ras_crop() -> nib.Nifti1Image:
    """64 x 56 x 30 voxels (3 mm, int16, RAS) from the middle of the test CT."""
    img = nib.load(TEST_CT)
    data = np.ascontiguousarray(np.asanyarray(img.dataobj)[CROP])
    affine = img.affine.copy()
    affine[:3, 3] = img.affine[:3, :3] @ [s.start for s in CROP] + img.affine[:3, 3]
    return nib.Nifti1Image(data, affine)


def as_lps(img: nib.Nifti1Image) -> nib.Nifti1Image:
    """The same voxels stored LPS: x and y flipped, the affine adjusted so world positions stay."""
    data = np.asanyarray(img.dataobj)[::-1, ::-1]
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = [data.shape[0] - 1, data.shape[1] - 1]
    return nib.Nifti1Image(np.ascontiguousarray(data), img.affine @ flip)


def permuted_oblique_aniso(img: nib.Nifti1Image) -> nib.Nifti1Image:
    """The voxels stored LPS with x and y swapped, 2.6 x 3.4 x 2.5 mm, rotated 12 degrees about z
    (as ``parity.oblique_lps``)."""
    data = np.asanyarray(img.dataobj)[::-1, ::-1].transpose(1, 0, 2)
    angle = np.deg2rad(12)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.array([[0, -1, 0], [-1, 0, 0], [0, 0, 1]]) @ np.diag([2.6, 3.4, 2.5])
    affine[:3, 3] = [60.0, 45.0, -40.0]
    return nib.Nifti1Image(np.ascontiguousarray(data), affine)


def inconsistent_header(img: nib.Nifti1Image) -> nib.Nifti1Image:
    """An sform of 3 mm voxels but a pixdim of 1.0 x 1.2 x 2.0 mm and no qform (as ``parity``)."""
    out = nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine)
    out.header.set_qform(None, code=0)
    out.header.set_sform(img.affine, code=2)
    out.header["pixdim"][1:4] = [1.0, 1.2, 2.0]
    return out


def mr_like(img: nib.Nifti1Image) -> nib.Nifti1Image:
    """The CT's anatomy with MR-like intensities (as ``parity.mr_like``)."""
    data = np.clip((np.asanyarray(img.dataobj).astype(np.float32) + 1000) / 3, 0, None).astype(np.int16)
    return nib.Nifti1Image(data, img.affine)


def write_inputs(dest: Path) -> None:
    """``<dest>/<name>.nii.gz`` for every input; checks that nibabel kept the odd pixdim."""
    dest.mkdir(parents=True, exist_ok=True)
    base = ras_crop()
    images = {"ras": base, "lps": as_lps(base), "permuted-oblique-aniso": permuted_oblique_aniso(base),
              "inconsistent-header": inconsistent_header(base), "mr-like": mr_like(base)}
    for name, img in images.items():
        nib.save(img, dest / f"{name}.nii.gz")
    zooms = nib.load(dest / "inconsistent-header.nii.gz").header.get_zooms()
    if not np.allclose(zooms, (1.0, 1.2, 2.0)):
        raise SystemExit(f"nibabel rewrote the pixdim of the inconsistent-header input: {zooms}")


def write_weights(root: Path) -> dict[str, Path]:
    """Tiny seeded weights for :data:`MODELS` under ``root``, and each plans variant's folder."""
    from totalseg.models.synthetic import write_random_weights

    shutil.rmtree(root, ignore_errors=True)
    for mid in MODELS:
        write_random_weights(root, [mid], tiny=True, seed=SEED + mid)
    variants = {}
    for variant in PLANS_VARIANTS:
        if variant != "sitk":
            shutil.rmtree(root.parent / f"{root.name}-{variant}", ignore_errors=True)
        variants[variant] = plans_variant(root, variant)
    return variants


def check_variant_plans(weights: Path) -> None:
    """Each tiny plans must stay runnable: patch, spacing, kernels and strides of three axes."""
    for plans_path in weights.glob("*/*/plans.json"):
        for conf in json.loads(plans_path.read_text())["configurations"].values():
            patch, strides = conf["patch_size"], np.prod(conf["pool_op_kernel_sizes"], axis=0)
            if len(patch) != 3 or len(conf["spacing"]) != 3 or any(p % s for p, s in zip(patch, strides)):
                raise SystemExit(f"{plans_path}: patch {patch} is not divisible by the strides {strides.tolist()}")


def run_official(case: Case, weights: Path, inputs: Path, out: Path) -> str:
    """Run ``TotalSegmentator`` on the case; its output text (SystemExit with the tail on failure)."""
    fresh_output(out)
    cmd = [str(official_venv() / "TotalSegmentator"), "-i", str(inputs / f"{case.input}.nii.gz"), "-o", str(out),
           "-d", "cpu", *case.args]
    proc = subprocess.run(cmd, env=offline_env(weights), capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    (out.parent / f"{case.name}.log").write_text(output)
    if proc.returncode != 0:
        raise SystemExit(f"TotalSegmentator failed on {case.name} (exit code {proc.returncode}):\n{output[-3000:]}")
    return output


def pack_masks(folder: Path) -> dict[str, np.ndarray]:
    """The official per-class folder as arrays: ``names``, ``masks`` (N, X, Y, Z) uint8, ``affine``."""
    paths = sorted(folder.glob("*.nii.gz"))
    images = [nib.load(p) for p in paths]
    for path, img in zip(paths, images):
        if img.get_data_dtype() != np.uint8 or not np.array_equal(img.affine, images[0].affine):
            raise SystemExit(f"{path}: expected uint8 masks sharing one affine, got {img.get_data_dtype()}")
    return {"names": np.array([p.name.removesuffix(".nii.gz") for p in paths]),
            "masks": np.stack([np.asanyarray(img.dataobj) for img in images]), "affine": images[0].affine}


def write_case(case: Case, out: Path, log: str, dest: Path) -> dict:
    """``case.json`` and the official output in ``dest``; returns the case description."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    if case.ml:
        shutil.copyfile(out, dest / "expected.nii.gz")
        present = np.count_nonzero(np.unique(np.asanyarray(nib.load(out).dataobj)))
    else:
        packed = pack_masks(out)
        save_npz(dest / "expected.npz", packed)
        present = packed["masks"].reshape(len(packed["names"]), -1).any(axis=1).sum()
    spec = {"input": case.input, "variant": case.variant, "args": list(case.args), "models": list(case.models),
            "what": case.what, "labels_present": int(present), **crop_info(case, log)}
    (dest / "case.json").write_text(json.dumps(spec, indent=1) + "\n")
    return spec


def crop_info(case: Case, log: str) -> dict:
    """For a cropping case, whether the rough crop was empty (as the case requires) and the cropped
    shape, from the official tool's log."""
    if case.crop_empty is None:
        return {}
    info: dict = {"crop_empty": "Crop is empty" in log}
    if info["crop_empty"] != case.crop_empty:
        raise SystemExit(f"{case.name}: the rough crop came out {'empty' if info['crop_empty'] else 'non-empty'}, "
                         "the case wants the other; pick another SEED or input")
    cropped = re.search(r"cropping from \((.*?)\) to \((.*?)\)", log)
    if cropped:
        info["crop_shape"] = [int(n) for n in cropped.group(2).split(",")]
    return info


def write_fixture_weights(variants: dict[str, Path], dest: Path) -> None:
    """``weights/`` (the SimpleITKIO folders) and ``plans/<variant>/`` (only the plans.json files that
    differ); the test assembles each variant's folder from them."""
    base = variants["sitk"]
    for sub in ("weights", "plans"):
        shutil.rmtree(dest / sub, ignore_errors=True)
    for plans_path in sorted(base.glob("*/*/plans.json")):
        rel = plans_path.parent.relative_to(base)
        target = dest / "weights" / rel
        (target / "fold_0").mkdir(parents=True)
        for name in ("plans.json", "dataset.json", "fold_0/checkpoint_final.pth"):
            shutil.copyfile(plans_path.parent / name, target / name)
        for variant, root in variants.items():
            if variant != "sitk":
                (dest / "plans" / variant / rel).mkdir(parents=True)
                shutil.copyfile(root / rel / "plans.json", dest / "plans" / variant / rel / "plans.json")


def official_versions() -> str:
    """``totalsegmentator X, nnunetv2 Y, torch Z`` of the official venv."""
    probe = ("from importlib.metadata import version as v; "
             "print(', '.join(f'{p} {v(p)}' for p in ('totalsegmentator', 'nnunetv2', 'torch')))")
    return subprocess.run([str(official_venv() / "python"), "-c", probe], capture_output=True, text=True,
                          check=True).stdout.strip()


def readme(specs: list[tuple[str, dict]], versions: str) -> str:
    """What the fixtures are, how they were made and how to rebuild them."""
    lines = [
        "# Official TotalSegmentator golden cases",
        "",
        f"Small inputs, tiny seeded weights and **the official `TotalSegmentator` {OFFICIAL_VERSION} command's own",
        "outputs** for them: the official tasks' whole pipeline (crop, closest canonical, scipy zoom to the model",
        "spacing, nnU-Net, labels back to the input grid). `tests/engine/test_official_golden.py` runs",
        "`totalseg.segment` on each case and requires identical outputs (voxels, shape, uint8, affine within",
        "1e-4, label names). The masks are meaningless (random weights); the code paths are the real ones.",
        "",
        "- `inputs/`: cut from the test CT `tests/data/ct_small_3mm.nii.gz` (122 x 101 x 30, 3 mm, int16, RAS):",
        "  `ras` (its voxels [29:93, 22:78, :], 64 x 56 x 30), `lps` (the same voxels stored LPS, world",
        "  positions unchanged), `permuted-oblique-aniso` (x/y swapped, LPS, 2.6 x 3.4 x 2.5 mm, rotated 12",
        "  degrees about z), `inconsistent-header` (sform of 3 mm but pixdim 1.0 x 1.2 x 2.0 mm, qform code 0)",
        "  and `mr-like` (MR-like intensities for `total_mr`).",
        "- `weights/`: models 297 (total --fast, 3 mm), 298 (total --fastest, 6 mm), 300 (body, 6 mm) and 852",
        "  (total_mr --fast, 3 mm) in the official folder layout (`plans.json`, `dataset.json`,",
        "  `fold_0/checkpoint_final.pth`), written by `totalseg.models.synthetic.write_random_weights(...,",
        f"  tiny=True, seed={SEED} + model id)`: the official spacing and labels, a 32^3 patch, a few thousand",
        "  parameters. Their plans read images with SimpleITKIO (variant `sitk`).",
        "- `plans/<variant>/`: the plans.json files of the other variants of the same checkpoints",
        "  (`benchmarks/harness.py: PLANS_VARIANTS`): `nibabel-reorient` (NibabelIOWithReorient) and",
        "  `nibabel-transposed` (NibabelIO, transpose_forward [2, 0, 1], patch, spacing, kernels and strides",
        "  permuted). The test copies `weights/` and lays these over it.",
        "- `cases/<case>/case.json`: `input`, `variant`, `args` (the official command's arguments besides",
        "  `-i -o -d cpu`), `models`, `what` it covers, `labels_present` (labels in the official output) and,",
        "  for cropping runs, `crop_empty` (whether the rough model's crop came out empty) and `crop_shape`",
        "  (the cropped image the task ran on, from the official log);",
        "  `expected.nii.gz` (the official `--ml` output as written) or `expected.npz` (the official folder",
        "  of per-class masks: `names`, `masks` (N, X, Y, Z) uint8 in name order, the shared `affine`).",
        "",
        "## How they were made",
        "",
        "```",
        "python benchmarks/official_golden.py",
        "```",
        "",
        "from totalseg's venv (the official tool runs in its own venv, `benchmarks/harness.py: official_venv()`,",
        "offline, `-d cpu`). Inputs and weights are seeded, so the command rebuilds the same files. Made with",
        f"{versions}.",
        "",
        "Licence: generated data, Apache-2.0. The CT voxels come from the test CT of the TotalSegmentator",
        "project (Apache-2.0; `tests/data/README.md`).",
        "",
        "| case | input | plans | official args | labels in output | what it covers |",
        "|---|---|---|---|---|---|",
    ]
    for name, spec in specs:
        what = spec["what"] + (f" (crop {' x '.join(map(str, spec['crop_shape']))})" if "crop_shape" in spec else "")
        lines.append(f"| `{name}` | `{spec['input']}` | `{spec['variant']}` | `{' '.join(spec['args'])}` | "
                     f"{spec['labels_present']} | {what} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    WORKDIR.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(GOLDEN, ignore_errors=True)
    write_inputs(GOLDEN / "inputs")
    variants = write_weights(WORKDIR / "weights")
    for root in variants.values():
        check_variant_plans(root)
    write_fixture_weights(variants, GOLDEN)
    specs = []
    for case in CASES:
        print(f"{case.name} ...", file=sys.stderr, flush=True)
        out = WORKDIR / "runs" / (f"{case.name}.nii.gz" if case.ml else case.name)
        log = run_official(case, variants[case.variant], GOLDEN / "inputs", out)
        spec = write_case(case, out, log, GOLDEN / "cases" / case.name)
        print(f"  {spec['labels_present']} labels" + (" (crop empty)" if spec.get("crop_empty") else ""),
              file=sys.stderr, flush=True)
        specs.append((case.name, spec))
    (GOLDEN / "README.md").write_text(readme(specs, official_versions()))
    size = sum(f.stat().st_size for f in GOLDEN.rglob("*") if f.is_file())
    print(f"{len(specs)} cases, {size / 2**20:.2f} MiB in {GOLDEN.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
