"""`from totalseg import totalsegmentator`: the official Python API's signature (compared with the
official function's, saved in tests/data/official_catalog) and its return values."""

import inspect
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import totalseg
from totalseg.errors import InputError

OFFICIAL = Path(__file__).resolve().parents[1] / "data" / "official_catalog" / "python_api_signature.json"


def test_the_signature_is_the_official_one():
    ours = [[p.name, repr(p.default)] for p in inspect.signature(totalseg.totalsegmentator).parameters.values()]
    official = json.loads(OFFICIAL.read_text())
    assert [name for name, _ in ours] == [name for name, _ in official]
    assert ours[1:] == official[1:]  # the defaults too (input has none in either)


@pytest.fixture()
def env(tiny_weights, monkeypatch):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tiny_weights))
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tiny_weights.parent))


def test_returns_the_segmentation_and_with_statistics_the_dict(env, ct_small_path, tmp_path):
    seg = totalseg.totalsegmentator(ct_small_path, tmp_path / "seg.nii.gz", ml=True, fast=True, device="cpu",
                                    quiet=True)
    expected = totalseg.segment(ct_small_path, fast=True, device="cpu", quiet=True)
    assert np.array_equal(np.asanyarray(seg.dataobj), np.asanyarray(expected.dataobj))
    assert np.array_equal(np.asanyarray(nib.load(tmp_path / "seg.nii.gz").dataobj), np.asanyarray(seg.dataobj))
    seg2, stats = totalseg.totalsegmentator(ct_small_path, None, fast=True, statistics=True, device="cpu", quiet=True)
    assert np.array_equal(np.asanyarray(seg2.dataobj), np.asanyarray(seg.dataobj))
    assert set(stats) == set(totalseg.segment.__globals__["get_task"]("total").classes.values())
    assert set(next(iter(stats.values()))) >= {"volume", "intensity"}
    folder = tmp_path / "masks"
    _, beside = totalseg.totalsegmentator(ct_small_path, folder, fast=True, statistics=True, device="cpu", quiet=True)
    assert json.loads((folder / "statistics.json").read_text()) == beside == stats


def test_parameters_not_reproduced_are_refused_not_ignored(ct_small_path):
    with pytest.raises(InputError, match="^crop_path, plans: not supported"):
        totalseg.totalsegmentator(ct_small_path, None, crop_path="masks", plans="nnUNetResEncUNetLPlans")
    with pytest.raises(InputError, match="roi_subset must be a list"):
        totalseg.totalsegmentator(ct_small_path, None, roi_subset="liver")
