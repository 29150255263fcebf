"""Golden cases from nnU-Net itself: totalseg must write the labels nnUNetv2_predict wrote, voxel for voxel.

Each folder of ``tests/data/nnunet_golden`` holds an input, an nnU-Net model folder and nnU-Net's
own output (``benchmarks/nnunet_parity.py --write-golden`` makes them with nnunetv2 in the official
tool's venv; see the README there). nnunetv2 is not needed here, and the engine must not import it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import totalseg
from totalseg.errors import TotalsegError

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "nnunet_golden"
CASES = sorted(p for p in GOLDEN.iterdir() if (p / "case.json").is_file()) if GOLDEN.is_dir() else []
REGENERATE = "python benchmarks/nnunet_parity.py --write-golden"


def segment_kwargs(args: list[str]) -> dict:
    """``totalseg segment`` options of a case as keyword arguments of :func:`totalseg.segment`.

    >>> segment_kwargs(["--step_size", "0.8", "--folds", "0", "1"])
    {'step_size': 0.8, 'folds': [0, 1]}
    """
    kwargs: dict = {}
    option = None
    for arg in args:
        if arg in ("--step_size", "--folds"):
            option = arg
        elif option == "--step_size":
            kwargs["step_size"] = float(arg)
        elif option == "--folds":
            kwargs.setdefault("folds", []).append(int(arg) if arg.isdigit() else arg)
        else:
            raise ValueError(f"case.json: unexpected argument {arg!r} in {args}; only --step_size and --folds")
    return kwargs


def test_golden_cases_exist():
    assert CASES, f"no golden cases in {GOLDEN}; make them with {REGENERATE}"


def test_segment_kwargs():
    assert segment_kwargs([]) == {}
    assert segment_kwargs(["--folds", "all"]) == {"folds": ["all"]}
    with pytest.raises(ValueError, match="unexpected argument"):
        segment_kwargs(["--fast"])


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_labels_identical_to_nnunet(case: Path, tmp_path: Path):
    spec = json.loads((case / "case.json").read_text())
    out = tmp_path / "labels.nii.gz"
    kwargs = segment_kwargs(spec["args"])
    if "nnunet_error" in spec:  # nnU-Net refuses this model folder; so must we, with one line
        with pytest.raises(TotalsegError) as refused:
            totalseg.segment(case / "input.nii.gz", out, ml=True, model_dir=case / "model", device="cpu",
                             quiet=True, download=False, **kwargs)
        assert "\n" not in str(refused.value)
        assert not out.exists()
        return
    totalseg.segment(case / "input.nii.gz", out, ml=True, model_dir=case / "model", device="cpu", quiet=True,
                     download=False, **kwargs)
    expected, ours = nib.load(case / "expected.nii.gz"), nib.load(out)
    assert ours.shape == expected.shape, spec["what"]
    x, y = np.asanyarray(expected.dataobj), np.asanyarray(ours.dataobj)
    agreement = float((x == y).mean())
    assert np.array_equal(x, y), f"{spec['what']}: {100 * agreement:.4f} % of voxels agree with nnU-Net"
    np.testing.assert_allclose(ours.affine, expected.affine, rtol=0, atol=1e-4)
    assert "nnunetv2" not in sys.modules
