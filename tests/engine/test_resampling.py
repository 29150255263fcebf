"""nnU-Net's resampling against outputs that nnunetv2 2.8.1 itself wrote (see the regeneration
command in benchmarks/nnunet_pieces.py)."""

import json
from pathlib import Path

import numpy as np
import pytest

from totalseg.engine.resampling import new_shape, resample, separate_axis
from totalseg.models.plans import Resampling

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "nnunet_pieces" / "resampling.npz"


def _cases():
    with np.load(GOLDEN) as npz:
        meta = json.loads(str(npz["meta"]))
        return [(m, npz[f"{m['name']}/input"], npz[f"{m['name']}/output"]) for m in meta]


CASES = _cases()


def test_the_golden_file_covers_images_logits_and_separate_z():
    names = {m["name"] for m, _, _ in CASES}
    assert len(CASES) >= 10 and {"data-separate-z-axis0", "logits-fp16-back", "same-shape"} <= names


@pytest.mark.parametrize("case", CASES, ids=[m["name"] for m, _, _ in CASES])
def test_resample_is_nnunets_bit_for_bit(case):
    meta, data, expected = case
    kwargs = {k: v for k, v in meta["kwargs"].items() if k != "is_seg"}
    out = resample(data, meta["target"], meta["spacing"], meta["new_spacing"], Resampling(**kwargs))
    assert out.dtype == expected.dtype and out.shape == expected.shape
    assert np.array_equal(out, expected)


def test_new_shape_rounds_as_nnunet():
    assert new_shape((10, 20, 30), (3.0, 1.0, 1.0), (1.5, 1.0, 2.0)) == (20, 20, 15)
    assert new_shape((5,), (1.0,), (2.0,)) == (2,)  # round half to even, as Python's round


@pytest.mark.parametrize("spacing, target, force, axis", [
    ((5.0, 0.8, 0.8), (1.0, 1.0, 1.0), None, 0),      # the image is anisotropic: its coarse axis
    ((1.0, 1.0, 1.0), (1.0, 1.0, 4.0), None, 2),      # the target is: its coarse axis
    ((4.0, 4.0, 1.0), (2.0, 2.0, 1.0), None, None),   # two coarse axes: resampled together
    ((1.0, 1.0, 2.9), (1.0, 1.0, 1.0), None, None),   # below the threshold of 3
    ((2.0, 1.0, 1.0), (1.0, 1.0, 1.0), True, 0),      # forced
    ((5.0, 0.8, 0.8), (1.0, 1.0, 1.0), False, None),  # forbidden
])
def test_separate_axis(spacing, target, force, axis):
    assert separate_axis(Resampling(force_separate_z=force), spacing, target) == axis
