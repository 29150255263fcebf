import numpy as np

from totalseg.qc import run_qc
from totalseg.qc.faults import remove_organ


def test_all_expected_present(clean_report):
    check = clean_report.check("expected_structures")
    assert check.status == "ok" and "liver" in check.evidence["expected"]
    assert check.evidence["covered_levels"][0] == "C2" and check.evidence["covered_levels"][-1] == "S1"


def test_removed_organ_is_missing(faulted):
    check = faulted(remove_organ).check("expected_structures")
    assert check.status == "warn" and len(check.evidence["missing"]) == 1


def test_no_expectation_without_coverage(clean):
    image, labels, classes = clean
    ids = {v: k for k, v in classes.items()}
    array = np.asarray(labels.array).copy()
    array[~np.isin(array, [ids["vertebrae_L1"], ids["vertebrae_L2"]])] = 0
    check = run_qc(image, labels.with_data(array), classes).check("expected_structures")
    assert check.status == "ok" and check.evidence["expected"] == []
