"""Golden cases for ``totalseg combine`` and ``totalseg crop-to-body`` from the official
TotalSegmentator 2.18.0 companion commands ``totalseg_combine_masks`` and ``crop_to_body``.

Usage::

    python benchmarks/companion_parity.py      # rebuild tests/data/companion_golden

Run in totalseg's venv; the official commands run in their own venv (``harness.official_venv()``),
offline, on CPU. The script

1. writes a seeded folder of small per-class masks (every class of every group; each mask with its
   own affine, a few stored as float32 or with a scale factor) and one multilabel file with the
   official label extension;
2. runs ``totalseg_combine_masks`` for every group on both sources, with and without ``-ml``, and on
   two failing inputs (a missing mask, a label the file does not have);
3. writes the tiny seeded body model 300 (``write_random_weights(..., tiny=True, seed=341)``: its
   body and trunk are smaller than the test CT, so the crops cut) and runs ``crop_to_body -d cpu``
   (with and without ``-t``) on the test CT and two of the official golden inputs;
4. runs the same commands with ``totalseg`` and prints whether the outputs are identical, byte for
   byte once decompressed, with both tools' times.

``tests/cli/test_combine.py`` and ``tests/cli/test_crop_to_body.py`` hold totalseg to these files.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from harness import BENCH_DIR, OFFICIAL_VERSION, ROOT, official_venv, offline_env, write_section

from totalseg.anatomy.groups import GROUP_NAMES, MASK_GROUPS
from totalseg.io.nifti_ext import add_label_map_to_nifti

GOLDEN = ROOT / "tests" / "data" / "companion_golden"
WORKDIR = BENCH_DIR / "companion_parity"
BODY_MODEL, BODY_SEED = 300, 341  # seed 341: the tiny body model finds a body smaller than the test CT
CROP_INPUTS = {
    "ct_small_3mm": ROOT / "tests" / "data" / "ct_small_3mm.nii.gz",
    "inconsistent-header": ROOT / "tests" / "data" / "official_golden" / "inputs" / "inconsistent-header.nii.gz",
    "permuted-oblique-aniso": ROOT / "tests" / "data" / "official_golden" / "inputs" / "permuted-oblique-aniso.nii.gz",
}
SHAPE = (12, 10, 8)
SEED = 20


def all_classes() -> list[str]:
    """Every class of every group, once, in first-seen order."""
    return list(dict.fromkeys(name for names in MASK_GROUPS.values() for name in names))


def write_mask_folder(folder: Path) -> None:
    """One seeded random mask per class; mask ``i`` is shifted by ``i`` mm in x (so the output affine
    shows which mask it came from). Every 7th mask is float32 with values 0.3 / 0.7, every 11th int16
    with scale factor 0.5 (stored 1 reads 0.5, not inside; stored 2 reads 1.0, inside)."""
    rng = np.random.default_rng(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(all_classes()):
        affine = np.array([[-1.5, 0, 0, 10.0 + i], [0, -1.5, 0, 20.0], [0, 0, 2.5, -30.0], [0, 0, 0, 1]])
        inside = rng.random(SHAPE) < 0.08
        if i % 7 == 3:
            data = np.where(inside, 0.7, np.where(rng.random(SHAPE) < 0.1, 0.3, 0.0)).astype(np.float32)
            img = nib.Nifti1Image(data, affine)
        elif i % 11 == 5:
            data = np.where(inside, 2, np.where(rng.random(SHAPE) < 0.1, 1, 0)).astype(np.int16)
            img = nib.Nifti1Image(data, affine)
            img.header.set_slope_inter(0.5, 0.0)
        else:
            img = nib.Nifti1Image(inside.astype(np.uint8), affine)
        img.header.set_xyzt_units("mm", "sec")
        img.header.set_qform(affine, code=1)
        img.header.set_sform(affine, code=1)
        nib.save(img, folder / f"{name}.nii.gz")


def write_multilabel(path: Path) -> None:
    """Random labels 0..62 (every class of every group plus label ids no group uses) with their names."""
    rng = np.random.default_rng(SEED + 1)
    names = all_classes()
    data = rng.integers(0, len(names) + 4, SHAPE).astype(np.uint8)
    affine = np.array([[0, 1.2, 0, -5.0], [-0.8, 0, 0, 7.0], [0, 0, 3.0, 1.5], [0, 0, 0, 1]])
    label_map = {i + 1: name for i, name in enumerate(names)} | {len(names) + k: f"other_{k}" for k in range(1, 4)}
    nib.save(add_label_map_to_nifti(nib.Nifti1Image(data, affine), label_map), path)


def combine_cases() -> list[dict]:
    """Every group from the folder and from the multilabel file, with and without -ml, and two failures."""
    cases = []
    for source in ("masks", "multilabel.nii.gz"):
        for group in GROUP_NAMES:
            for ml in (False, True):
                name = f"{source.split('.')[0]}-{group}" + ("-ml" if ml else "")
                cases.append({"name": name, "source": source, "group": group, "ml": ml})
    cases.append({"name": "error-missing-mask", "source": "masks-missing", "group": "lung", "ml": False})
    cases.append({"name": "error-missing-label", "source": "multilabel-no-ribs.nii.gz", "group": "ribs",
                  "ml": False})
    return cases


def make_inputs(root: Path) -> None:
    for child in ("masks", "masks-missing"):
        shutil.rmtree(root / child, ignore_errors=True)
    write_mask_folder(root / "masks")
    shutil.copytree(root / "masks", root / "masks-missing")
    (root / "masks-missing" / "lung_middle_lobe_right.nii.gz").unlink()
    write_multilabel(root / "multilabel.nii.gz")
    img = nib.load(root / "multilabel.nii.gz")
    names = {i + 1: n for i, n in enumerate(all_classes()) if not n.startswith("rib_")}
    nib.save(add_label_map_to_nifti(nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine), names),
             root / "multilabel-no-ribs.nii.gz")


def run(cmd: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return proc, time.perf_counter() - start


def last_error_line(output: str) -> str:
    """The last line of an error output, with the golden folder's path made relative."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1].replace(f"{GOLDEN}/", "") if lines else ""


def nifti_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed: header, extensions and voxels (the gzip wrapper's mtime aside)."""
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def golden_combine(bin_dir: Path, env: dict[str, str], ours: list[str]) -> list[dict]:
    inputs = GOLDEN / "combine" / "inputs"
    shutil.rmtree(inputs, ignore_errors=True)
    make_inputs(inputs)
    rows = []
    for case in combine_cases():
        expected = GOLDEN / "combine" / f"{case['name']}.nii.gz"
        args = ["-i", str(inputs / case["source"]), "-m", case["group"]] + (["-ml"] if case["ml"] else [])
        proc, official_s = run([str(bin_dir / "totalseg_combine_masks"), *args, "-o", str(expected)], env)
        case = {**case, "returncode": proc.returncode}
        if proc.returncode:
            case["official_error"] = last_error_line(proc.stderr)
        mine = WORKDIR / "combine" / expected.name
        mine.unlink(missing_ok=True)
        ours_proc, ours_s = run([*ours, "combine", *args, "-o", str(mine)], env)
        same = (ours_proc.returncode != 0) == (proc.returncode != 0) and (
            proc.returncode != 0 or nifti_bytes(mine) == nifti_bytes(expected))
        rows.append({**case, "identical": same, "official_s": official_s, "ours_s": ours_s,
                     "ours_error": last_error_line(ours_proc.stderr) if ours_proc.returncode else ""})
        case_file = GOLDEN / "combine" / "cases.json"
        cases = json.loads(case_file.read_text()) if case_file.exists() and rows[:-1] else []
        case_file.write_text(json.dumps([*cases, case], indent=1) + "\n")
    return rows


def golden_crop(bin_dir: Path, env: dict[str, str], ours: list[str]) -> list[dict]:
    rows, cases = [], []
    for input_name, path in CROP_INPUTS.items():
        for trunk in (False, True):
            name = f"{input_name}" + ("-only-trunc" if trunk else "")
            official = WORKDIR / "crop" / f"{name}-official.nii.gz"
            mine = WORKDIR / "crop" / f"{name}-ours.nii.gz"
            official.parent.mkdir(parents=True, exist_ok=True)
            flags = ["-t"] if trunk else []
            proc, official_s = run([str(bin_dir / "crop_to_body"), "-i", str(path), "-o", str(official),
                                    "-d", "cpu", "-q", *flags], env)
            if proc.returncode:
                raise SystemExit(f"official crop_to_body failed on {name}:\n{proc.stdout}{proc.stderr}")
            ours_proc, ours_s = run([*ours, "crop-to-body", "-i", str(path), "-o", str(mine), "-d", "cpu", "-q",
                                     *flags], env)
            data = nifti_bytes(official)
            img = nib.load(official)
            header_len = int(img.header.get_data_offset())
            cases.append({"name": name, "input": input_name, "only_trunc": trunk, "shape": list(img.shape),
                          "header_hex": data[:header_len].hex(),
                          "voxels_sha256": hashlib.sha256(data[header_len:]).hexdigest()})
            same = ours_proc.returncode == 0 and nifti_bytes(mine) == data
            rows.append({"name": name, "identical": same, "official_s": official_s, "ours_s": ours_s,
                         "shape": list(img.shape), "ours_error": last_error_line(ours_proc.stderr)})
    (GOLDEN / "crop_to_body.json").write_text(json.dumps(cases, indent=1) + "\n")
    return rows


def main() -> None:
    from totalseg.models.synthetic import write_random_weights

    bin_dir = official_venv()
    shutil.rmtree(GOLDEN / "weights", ignore_errors=True)
    write_random_weights(GOLDEN / "weights", [BODY_MODEL], tiny=True, seed=BODY_SEED)
    weights = WORKDIR / "weights"  # a copy: offline_env writes the official tool's home beside it
    shutil.rmtree(weights, ignore_errors=True)
    shutil.copytree(GOLDEN / "weights", weights)
    env = offline_env(weights)
    (GOLDEN / "combine").mkdir(parents=True, exist_ok=True)
    (GOLDEN / "combine" / "cases.json").unlink(missing_ok=True)
    ours = [sys.executable, "-m", "totalseg"]
    rows = golden_combine(bin_dir, env, ours) + golden_crop(bin_dir, env, ours)
    for row in rows:
        status = "identical" if row["identical"] else "DIFFERENT"
        if row.get("group") == "heart" and row.get("returncode"):
            status = "official fails"  # it looks for the masks h, e, a, r, t (anatomy/groups.py)
        note = row.get("official_error") or ""
        print(f"{row['name']:40s} {status:9s} official {row['official_s']:5.2f} s  totalseg {row['ours_s']:5.2f} s"
              f"  {note[:70]}{('  | ours: ' + row['ours_error'][:90]) if row['ours_error'] else ''}")
    same = sum(row["identical"] for row in rows)
    heart = sum(row.get("group") == "heart" for row in rows)
    print(f"{same}/{len(rows) - heart} identical to totalsegmentator {OFFICIAL_VERSION} "
          f"({heart} heart cases: the official command fails, totalseg merges the heart mask)")
    write_section("companion-parity", markdown(rows, same, heart))


def markdown(rows: list[dict], same: int, heart: int) -> str:
    """The docs section: one row per command, its cases and how many are identical."""
    from harness import machine

    lines = ["## Companion commands against the official tool", "",
             "`python benchmarks/companion_parity.py` (rewrites tests/data/companion_golden): `totalseg combine` "
             "against `totalseg_combine_masks`, `totalseg crop-to-body` against `crop_to_body`, same inputs, "
             f"CPU. Machine: {machine()}.", "",
             "| command | cases | identical (output bytes after decompression, or the same error) | official s | "
             "totalseg s |", "|---|---|---|---|---|"]
    for label, is_combine in (("combine", True), ("crop-to-body", False)):
        group = [r for r in rows if ("group" in r) == is_combine and r.get("group") != "heart"]
        if not group:
            continue
        official_s, ours_s = (sum(r[key] for r in group) / len(group) for key in ("official_s", "ours_s"))
        lines.append(f"| {label} | {len(group)} | {sum(r['identical'] for r in group)}/{len(group)} | "
                     f"{official_s:.1f} | {ours_s:.1f} |")
    lines += ["", f"{same} of {len(rows) - heart} cases identical. `-m heart` ({heart} cases) is left out: the "
              "official command offers it but has no list for it and looks for masks named h, e, a, r, t; "
              "totalseg merges the heart mask."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
