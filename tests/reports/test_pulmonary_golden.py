"""``totalseg report pulmonary`` against the official ``totalseg_pulmonary_report`` on hand-made phantoms.

The goldens (``tests/data/pulmonary_report_golden/<case>/official.json``) were written by the official
pipeline itself from the same CT and masks (``benchmarks/pulmonary_report_golden.py``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import nibabel as nib
import pytest

from totalseg.reports.pulmonary.masks import masks_from_path
from totalseg.reports.pulmonary.report import measure_report

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "pulmonary_report_golden"
CASES = ("full", "lps_aniso", "cut_off", "empty_branch", "seeded")


@cache
def _ours_text(case: str) -> str:
    folder = GOLDEN / case
    result = measure_report(nib.load(folder / "ct.nii.gz"), masks_from_path(folder / "models"))
    return json.dumps(result.json)


def _ours(case: str) -> dict:
    return json.loads(_ours_text(case))


def _official(case: str) -> dict:
    report = json.loads((GOLDEN / case / "official.json").read_text())
    for landmark in report["landmarks"].values():
        landmark.pop("roi_sum", None)  # the official all-zero plane array, summed by the golden script
    return report


@pytest.mark.parametrize("case", CASES)
def test_report_equals_official(case: str) -> None:
    ours, official = _ours(case), _official(case)
    assert list(ours) == ["landmarks", "metadata", "not_measurable"]
    assert ours["metadata"] == official["metadata"]
    for index, expected in official["landmarks"].items():
        assert list(ours["landmarks"][index]) == list(expected), index
        assert ours["landmarks"][index] == expected, index


@pytest.mark.parametrize(("case", "reasons"), [
    ("full", {}),
    ("cut_off", {"3": "mask is empty", "4": "mask is empty", "5": "mask is empty"}),
    ("empty_branch", {"4": "mask is empty", "5": "does not cut the pulmonary artery"}),
])
def test_not_measurable_says_why(case: str, reasons: dict[str, str]) -> None:
    ours = _ours(case)["not_measurable"]
    assert sorted(ours) == sorted(reasons)
    for index, words in reasons.items():
        assert words in ours[index]
        assert ours[index] and _official(case)["landmarks"][index]["diameter"] is None
