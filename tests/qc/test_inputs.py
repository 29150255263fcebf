import numpy as np

from totalseg.qc import run_qc
from totalseg.qc.faults import blank_image, front_back, head_at_feet, padding_cuts_anatomy


def test_clean_input(clean_report):
    check = clean_report.check("input")
    assert check.status == "ok" and check.evidence["head_feet_pairs"] >= 5


def test_head_at_the_feet_end_fails(faulted):
    check = faulted(head_at_feet).check("input")
    assert check.status == "fail" and check.evidence["head_feet_inverted"]


def test_front_back_swapped_fails(faulted):
    check = faulted(front_back).check("input")
    assert check.status == "fail" and check.evidence["front_back_inverted"]


def test_blank_images_fail(faulted):
    assert {faulted(blank_image, seed).check("input").status for seed in range(4)} == {"fail"}


def test_padding_under_anatomy_warns(faulted):
    check = faulted(padding_cuts_anatomy).check("input")
    assert check.status == "warn" and check.evidence["padding_share_in_labels"] > 0.01


def test_irregular_slice_positions_warn(clean):
    image, labels, classes = clean
    regular = np.arange(10) * 2.5
    assert run_qc(image, labels, classes, slice_positions_mm=regular).check("input").status == "ok"
    irregular = np.r_[regular[:5], regular[5:] + 1.5]
    check = run_qc(image, labels, classes, slice_positions_mm=irregular).check("input")
    assert check.status == "warn" and check.evidence["irregular_slice_steps"][0]["step_mm"] == 4.0
