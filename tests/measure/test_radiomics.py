"""``--radiomics`` against the official tool's own ``statistics_radiomics.json``.

``tests/data/radiomics_golden`` holds a small CT, five masks (box, sphere, thin slab, one voxel,
empty) and the file the official ``get_radiomics_features_for_entire_dir`` wrote for them
(``benchmarks/radiomics_golden.py``); ours must be the same text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("radiomics")

from totalseg.measure.radiomics import STANDARD_FEATURES, radiomics_of_folder  # noqa: E402

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "radiomics_golden"
CT = Path(__file__).resolve().parents[1] / "data" / "official_golden" / "inputs" / "ras.nii.gz"


def test_features_identical_to_official(tmp_path):
    out = tmp_path / "statistics_radiomics.json"
    with pytest.warns(UserWarning) as caught:
        features = radiomics_of_folder(CT, GOLDEN / "masks", out)
    assert out.read_text() == (GOLDEN / "statistics_radiomics.json").read_text()
    assert list(features) == ["box", "empty", "single_voxel", "slab", "sphere"]
    warned = " ".join(str(w.message) for w in caught)
    assert "empty.nii.gz: the mask is all 0 or all 1" in warned and "single_voxel.nii.gz: pyradiomics failed" in warned


def test_fallback_names_are_the_official_standard_list():
    golden = json.loads((GOLDEN / "statistics_radiomics.json").read_text())
    assert list(golden["empty"]) == list(STANDARD_FEATURES) and set(golden["empty"].values()) == {0}
    assert set(golden["box"]) < set(STANDARD_FEATURES)  # shape and first-order only
