"""The official --higher_order_resampling export against TotalSegmentator's own function on seeded
fp16 logits (tests/data/cropped_export_golden.npz, written by benchmarks/cropped_export_golden.py):
up- and downsampling, an anisotropic grid with separate-z background resampling, the same grid."""

from pathlib import Path

import numpy as np
import pytest

from totalseg.engine.cropped_export import cropped_logits_to_labels
from totalseg.engine.resampling import resample
from totalseg.models.plans import Resampling

GOLDEN = np.load(Path(__file__).resolve().parents[1] / "data" / "cropped_export_golden.npz")
LOGITS = Resampling(order=1, order_z=0, force_separate_z=None)


@pytest.mark.parametrize("case", range(4))
def test_identical_to_the_official_export(case):
    logits = GOLDEN[f"logits_{case}"]
    new, current, target = (GOLDEN[f"{k}_{case}"] for k in ("new", "current", "target"))
    labels = cropped_logits_to_labels(logits, new, lambda bg: resample(bg, new, current, target, LOGITS))
    expected = GOLDEN[f"labels_{case}"]
    assert np.array_equal(labels, expected)  # (the official same-grid path returns int64; both end up in uint8)
    assert len(np.unique(expected)) > 2 or case == 3


@pytest.mark.parametrize("case", range(3))
def test_legacy_label_resampling_is_the_official_one(case):
    from totalseg.engine.label_resampling import one_hot_crop_resample

    labels, new = GOLDEN[f"legacy_labels_{case}"], GOLDEN[f"legacy_new_{case}"]
    expected = GOLDEN[f"legacy_out_{case}"]
    assert len(np.unique(labels)) > 3
    assert np.array_equal(one_hot_crop_resample(labels, new), expected)
