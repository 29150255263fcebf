"""``--save_probabilities`` against the official tool's own ``-sp`` files.

``tests/data/probabilities_golden`` holds, per case, what TotalSegmentator 2.18.0 wrote with ``-sp``
on an input and tiny seeded weights of ``tests/data/official_golden`` (``benchmarks/
probabilities_golden.py``): the probabilities (the array, or its SHA-256 for the 118-class model),
the properties pickle and the ``--ml`` segmentation. Here totalseg runs the same case; the arrays
must be identical bit for bit, the properties equal and the segmentation identical.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from test_official_golden import assemble_weights, assert_same_ml, segment_kwargs

import totalseg
from totalseg.engine.probabilities import properties_path
from totalseg.settings import Settings

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "probabilities_golden"
INPUTS = Path(__file__).resolve().parents[1] / "data" / "official_golden" / "inputs"
CASES = sorted(p for p in GOLDEN.iterdir() if (p / "case.json").is_file()) if GOLDEN.is_dir() else []


def test_golden_cases_exist():
    assert len(CASES) == 5, "make them with python benchmarks/probabilities_golden.py"


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_probabilities_identical_to_official(case: Path, tmp_path: Path):
    spec = json.loads((case / "case.json").read_text())
    weights = assemble_weights(spec["variant"], tmp_path / "weights")
    probs_path = tmp_path / "out" / "probs.npz"
    totalseg.segment(INPUTS / f"{spec['input']}.nii.gz", tmp_path / "seg.nii.gz", device="cpu", quiet=True,
                     download=False, settings=Settings(home_dir=tmp_path, weights_dir=weights), keep_models=False,
                     save_probabilities=probs_path, **segment_kwargs(spec["args"]))
    with np.load(probs_path) as archive:
        assert archive.files == ["probabilities"]
        ours = archive["probabilities"]
    assert list(ours.shape) == spec["shape"] and str(ours.dtype) == spec["dtype"]
    if spec["array_kept"]:
        with np.load(case / "probabilities.npz") as ref:
            expected = ref["probabilities"]
        assert np.array_equal(ours, expected), f"{np.count_nonzero(ours != expected)} values differ"
    assert hashlib.sha256(np.ascontiguousarray(ours).tobytes()).hexdigest() == spec["sha256"]
    with open(case / "probabilities.pkl", "rb") as ref, open(properties_path(probs_path), "rb") as mine:
        expected_props, our_props = pickle.load(ref), pickle.load(mine)  # noqa: S301 - files of this repo and test
    np.testing.assert_equal(our_props, expected_props)
    assert _types(our_props) == _types(expected_props)
    assert_same_ml(case / "expected.nii.gz", tmp_path / "seg.nii.gz", case.name)


def _types(obj):
    """The nested structure's types (dict keys kept), to compare tuple/list/float/np.float64 choices."""
    if isinstance(obj, dict):
        return {k: _types(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [_types(v) for v in obj])
    return type(obj).__name__
