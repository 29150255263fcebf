"""The official classifiers read without unpickling, against the official tool's own predictions
(tests/data/phase_golden, made by benchmarks/phase_golden.py with TotalSegmentator 2.18.0)."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from totalseg.errors import InputError
from totalseg.measure.forest import read_model_file, read_pickled_boosters
from totalseg.measure.ubjson import decode

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "phase_golden"
PHASE_PKL = GOLDEN / "contrast_phase_classifiers_2024_07_19.pkl"


@pytest.fixture
def no_unpickling(monkeypatch):
    """Any unpickling during the test fails it."""
    def refuse(*args, **kwargs):
        raise AssertionError("unpickling attempted")

    class Refuse:
        def __init__(self, *args, **kwargs):
            refuse()

    for name in ("load", "loads"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(pickle, "Unpickler", Refuse)
    monkeypatch.setattr(pickle, "_Unpickler", Refuse)


def test_phase_regressors_bit_identical_to_official(no_unpickling):
    golden = np.load(GOLDEN / "phase.npz")
    forests = read_pickled_boosters(PHASE_PKL, expected=5)
    preds = np.stack([f.predict(golden["features"]) for f in forests], axis=1)
    assert preds.dtype == np.float32
    assert np.array_equal(preds.view(np.int32), golden["fold_predictions"].view(np.int32))  # 200 x 5, bit for bit
    assert [f.feature_names[0] for f in forests] == ["liver_intensity"] * 5


@pytest.mark.parametrize("kind", ["plain", "normalized"])
def test_modality_classifiers_match_official_labels_and_margins(kind):
    golden = np.load(GOLDEN / "modality.npz")
    suffix = "" if kind == "plain" else "_normalized"
    forests = [read_model_file(GOLDEN / f"modality_classifiers{suffix}_2025_02_24.json.{k}") for k in range(5)]
    x = golden[f"{kind}_features"]
    labels = np.stack([f.predict(x) for f in forests], axis=1)
    margins = np.stack([f.margin(x) for f in forests], axis=1)
    assert np.array_equal(labels, golden[f"{kind}_labels"])  # 200 x 5
    # xgboost's margins, bit for bit, except 2 of 1000 of the normalized set 1 float32 ulp apart
    same = margins == golden[f"{kind}_margins"]
    assert same.sum() >= same.size - 2
    np.testing.assert_allclose(margins, golden[f"{kind}_margins"], rtol=0, atol=2e-7)


def test_read_pickled_boosters_refuses_other_files(tmp_path):
    plain = tmp_path / "x.pkl"
    plain.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(InputError, match="expected 5 xgboost boosters, found 0"):
        read_pickled_boosters(plain, expected=5)
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"\x80\x04not a pickle at all")
    with pytest.raises(InputError, match="not a readable pickle"):
        read_pickled_boosters(junk)


def test_ubjson_decodes_containers_and_numbers():
    data = (b"{i\x01a[$d#i\x02" + struct.pack(">ff", 1.5, -2.0) + b"i\x01bSi\x02hii\x01c[TFZL"
            + struct.pack(">q", 2**40) + b"D" + struct.pack(">d", 0.1) + b"]}")
    out = decode(data)
    assert out["a"].dtype == np.float32 and out["a"].tolist() == [1.5, -2.0]
    assert out["b"] == "hi" and out["c"] == [True, False, None, 2**40, 0.1]


@pytest.mark.parametrize("data", [b"{i\x01a", b"[$d#i\x02\x00", b"X", b"Si\x01ab"])
def test_ubjson_refuses_malformed(data):
    with pytest.raises(InputError, match="UBJSON"):
        decode(data)
