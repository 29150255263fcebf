"""Goldens for ``totalseg measure``: the official tool's masks and the statistics.json it wrote for them.

Usage::

    python benchmarks/measure_golden.py

TotalSegmentator 2.18.0 runs ``--fast`` on the repository's small CT (3 mm, RAS) with small seeded
networks (the flag benchmark's, ``benchmarks/flag_parity.py``), three times:

- ``--statistics -sii`` (per-class masks): the masks are saved as one compact multilabel file
  (``masks_fast.nii.gz``, the class map's ids) and its statistics as ``statistics_fast_sii.json``;
- ``--statistics`` (the border rule on): ``statistics_fast.json``;
- ``--ml --statistics -sii -sa median``: its multilabel file as written (with the label-name
  extension), ``seg_ml.nii.gz``, and ``statistics_ml_sii_median.json``.

Which grid: with ``--fast`` the official tool measures on its 3 mm model grid (the image reoriented
to RAS and resampled), before the labels go back to the input grid; ``totalseg measure`` measures
the masks a user holds, on the input grid (what the official tool does without ``--fast``). For this
input the two grids are the same (3 mm, RAS: the resampling is the identity), so the statistics are
the realistic case that must be byte for byte the official file. The script checks that the
three runs wrote the same masks and that the 3 mm grid is the input's.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
from harness import BENCH_DIR, ROOT, official_venv, offline_env, timed_run

CT = ROOT / "tests" / "data" / "ct_small_3mm.nii.gz"
GOLDEN = ROOT / "tests" / "data" / "measure_golden"
WORK = BENCH_DIR / "measure-golden"
WEIGHTS = BENCH_DIR / "flag-weights"  # the flag benchmark's tiny seeded total --fast network
SEED = 20
# output name, official flags, golden statistics name
RUNS = [
    ("masks", ["--statistics", "-sii"], "statistics_fast_sii.json"),
    ("masks_border", ["--statistics"], "statistics_fast.json"),
    ("seg.nii.gz", ["--ml", "--statistics", "-sii", "-sa", "median"], "statistics_ml_sii_median.json"),
]


def run_official(out: Path, flags: list[str], env: dict[str, str], official_bin: Path) -> Path:
    """One official ``--fast`` run into ``out``; returns the folder holding its statistics.json."""
    cmd = [str(official_bin / "TotalSegmentator"), "-i", str(CT), "-o", str(out), "-d", "cpu", "--fast", *flags]
    result = timed_run(cmd, env, poll_s=None)
    if result.returncode != 0:
        sys.exit(f"official run failed: {result.output.strip()[-400:]}")
    return out.parent if out.suffix == ".gz" else out


def masks_as_multilabel(folder: Path) -> nib.Nifti1Image:
    """The per-class masks of ``total`` as one uint8 image of the class map's ids (the masks' affine)."""
    from totalseg.anatomy.class_maps import class_map

    array = affine = None
    for class_id, name in class_map("total").items():
        img = nib.load(folder / f"{name}.nii.gz")
        mask = np.asanyarray(img.dataobj) > 0
        if array is None:
            array, affine = np.zeros(mask.shape, np.uint8), img.affine
        if np.any(array[mask]):
            sys.exit(f"{name} overlaps another mask; a multilabel file cannot hold it")
        array[mask] = class_id
    img = nib.Nifti1Image(array, affine)
    img.set_data_dtype(np.uint8)
    return img


def main() -> None:
    from totalseg.models.synthetic import write_random_weights

    if not (WEIGHTS / "Dataset297_TotalSegmentator_total_3mm_1559subj").is_dir():
        write_random_weights(WEIGHTS, [297], tiny=True, seed=SEED)
    env, official_bin = offline_env(WEIGHTS), official_venv()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, flags, stats_name in RUNS:
        print(f"official --fast {' '.join(flags)} ...", file=sys.stderr, flush=True)
        folder = run_official(WORK / name, flags, env, official_bin)
        shutil.copyfile(folder / "statistics.json", GOLDEN / stats_name)
    masks = masks_as_multilabel(WORK / "masks")
    border = np.asarray(masks_as_multilabel(WORK / "masks_border").dataobj)
    ml = nib.load(WORK / "seg.nii.gz")
    ct = nib.load(CT)
    same = np.array_equal(np.asarray(masks.dataobj), border) and np.array_equal(np.asarray(masks.dataobj),
                                                                                np.asanyarray(ml.dataobj))
    if not same or masks.shape != ct.shape or not np.allclose(masks.affine, ct.affine):
        sys.exit("the three runs' masks differ or are not on the input grid; the goldens would not be one case")
    nib.save(masks, GOLDEN / "masks_fast.nii.gz")
    shutil.copyfile(WORK / "seg.nii.gz", GOLDEN / "seg_ml.nii.gz")
    meta = {"input": "tests/data/ct_small_3mm.nii.gz", "weights": f"flag-weights (297 tiny, seed {SEED})",
            "official": "TotalSegmentator 2.18.0", "runs": {stats: ["--fast", *flags] for _, flags, stats in RUNS}}
    (GOLDEN / "runs.json").write_text(json.dumps(meta, indent=2) + "\n")
    sizes = {p.name: p.stat().st_size for p in sorted(GOLDEN.iterdir())}
    print(json.dumps(sizes, indent=2))


if __name__ == "__main__":
    main()
