"""Golden case for ``--radiomics``: the official TotalSegmentator 2.18.0's own radiomics features.

Usage::

    python benchmarks/radiomics_golden.py        # rebuild tests/data/radiomics_golden

Writes a small CT (the RAS crop of ``tests/data/official_golden/inputs``) and five masks: a box, a
sphere, a thin slab, a single voxel (pyradiomics refuses it: zeros) and an empty mask (zeros), then
runs the official ``get_radiomics_features_for_entire_dir`` in the official venv (with the original
``pyradiomics`` installed there: ``pip install --no-build-isolation pyradiomics``) and keeps its
``statistics_radiomics.json``. ``tests/measure/test_radiomics.py`` requires the same file from
``totalseg.measure.radiomics``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
from harness import ROOT, official_venv

GOLDEN = ROOT / "tests" / "data" / "radiomics_golden"
CT = ROOT / "tests" / "data" / "official_golden" / "inputs" / "ras.nii.gz"


def write_masks(dest) -> None:
    img = nib.load(CT)
    shape = img.shape
    grid = np.indices(shape)
    centre = np.array(shape)[:, None, None, None] / 2
    masks = {
        "box": np.zeros(shape, bool),
        "sphere": ((grid - centre) ** 2 * np.array([1, 1, 2.0])[:, None, None, None]).sum(0) < 12 ** 2,
        "slab": np.zeros(shape, bool),
        "single_voxel": np.zeros(shape, bool),
        "empty": np.zeros(shape, bool),
    }
    masks["box"][10:30, 12:40, 5:20] = True
    masks["slab"][5:60, 20:22, 3:27] = True
    masks["single_voxel"][30, 30, 15] = True
    (dest / "masks").mkdir(parents=True)
    for name, mask in masks.items():
        nib.save(nib.Nifti1Image(mask.astype(np.uint8), img.affine), dest / "masks" / f"{name}.nii.gz")


def main() -> None:
    shutil.rmtree(GOLDEN, ignore_errors=True)
    GOLDEN.mkdir(parents=True)
    write_masks(GOLDEN)
    code = ("import sys; from pathlib import Path; "
            "from totalsegmentator.statistics import get_radiomics_features_for_entire_dir as f; "
            "f(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))")
    subprocess.run([str(official_venv() / "python"), "-c", code, str(CT), str(GOLDEN / "masks"),
                    str(GOLDEN / "statistics_radiomics.json")], check=True)
    print(f"wrote {GOLDEN.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
