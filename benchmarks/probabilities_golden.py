"""Golden cases for ``--save_probabilities``: the official TotalSegmentator 2.18.0's own ``-sp`` files.

Usage::

    python benchmarks/probabilities_golden.py        # rebuild tests/data/probabilities_golden

Uses the inputs and tiny seeded weights of ``tests/data/official_golden`` (``official_golden.py``
writes the same weights again under ``.bench``) and runs the official ``TotalSegmentator -sp`` in
its venv, offline, on CPU. Per case it keeps the official probabilities (``probabilities.npz``: the
array, or for the 118-class ``total`` model its shape and SHA-256), the official properties pickle
(``probabilities.pkl``, as written) and the official ``--ml`` segmentation (``expected.nii.gz``).
``tests/engine/test_probabilities_golden.py`` runs totalseg on the same inputs and weights and
requires the same arrays bit for bit and the same properties.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from harness import ROOT, fresh_output, official_venv, offline_env
from npz import save_npz
from official_golden import WORKDIR, write_weights

GOLDEN = ROOT / "tests" / "data" / "probabilities_golden"
INPUTS = ROOT / "tests" / "data" / "official_golden" / "inputs"
BODY_FAST = ("--task", "body", "--fast", "--ml")
# name, input, plans variant, official args besides -i -o -d cpu -sp, keep the whole array
CASES = [
    ("body-fast-lps-sitk", "lps", "sitk", BODY_FAST, True),
    ("body-fast-oblique-reorient", "permuted-oblique-aniso", "nibabel-reorient", BODY_FAST, True),
    ("body-fast-lps-transposed", "lps", "nibabel-transposed", BODY_FAST, True),
    ("body-fast-header-sitk", "inconsistent-header", "sitk", BODY_FAST, True),
    ("total-fast-ras-sitk", "ras", "sitk", ("--fast", "--ml"), False),
]


def digest(array: np.ndarray) -> str:
    """SHA-256 of the array's C-ordered bytes."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def run_case(name: str, image: str, weights: Path, args: tuple[str, ...], keep_array: bool) -> dict:
    out = WORKDIR / "probabilities" / name
    fresh_output(out)
    out.mkdir(parents=True)
    cmd = [str(official_venv() / "TotalSegmentator"), "-i", str(INPUTS / f"{image}.nii.gz"),
           "-o", str(out / "expected.nii.gz"), "-d", "cpu", "-sp", str(out / "probs.npz"), *args]
    proc = subprocess.run(cmd, env=offline_env(weights), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"TotalSegmentator failed on {name}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    dest = GOLDEN / name
    dest.mkdir(parents=True)
    probs = np.load(out / "probs.npz")["probabilities"]
    if keep_array:
        save_npz(dest / "probabilities.npz", {"probabilities": probs})
    shutil.copyfile(out / "probs.pkl", dest / "probabilities.pkl")
    shutil.copyfile(out / "expected.nii.gz", dest / "expected.nii.gz")
    spec = {"input": image, "variant": dict((c[0], c[2]) for c in CASES)[name], "args": list(args),
            "shape": list(probs.shape), "dtype": str(probs.dtype), "sha256": digest(probs),
            "array_kept": keep_array}
    (dest / "case.json").write_text(json.dumps(spec, indent=1) + "\n")
    return spec


def main() -> None:
    shutil.rmtree(GOLDEN, ignore_errors=True)
    GOLDEN.mkdir(parents=True)
    variants = write_weights(WORKDIR / "weights")
    for name, image, variant, args, keep in CASES:
        print(f"{name} ...", file=sys.stderr, flush=True)
        spec = run_case(name, image, variants[variant], args, keep)
        print(f"  probabilities {spec['shape']} {spec['dtype']}", file=sys.stderr, flush=True)
    size = sum(f.stat().st_size for f in GOLDEN.rglob("*") if f.is_file())
    print(f"{len(CASES)} cases, {size / 2**20:.2f} MiB in {GOLDEN.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
