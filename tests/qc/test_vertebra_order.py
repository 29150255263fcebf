import numpy as np

from totalseg.qc import run_qc
from totalseg.qc.faults import shift_vertebrae
from totalseg.qc.reference import RIB_LEVEL_WINDOW


def _relabel(clean, table):
    image, labels, classes = clean
    ids = {v: k for k, v in classes.items()}
    array = np.asarray(labels.array).copy()
    original = array.copy()
    for a, b in table.items():
        array[original == ids[a]] = ids[b] if b else 0
    return run_qc(image, labels.with_data(array), classes).check("vertebra_order")


def test_clean_spine_in_order(clean_report):
    check = clean_report.check("vertebra_order")
    assert check.status == "ok" and check.evidence["present"][0] == "C1" and check.evidence["present"][-1] == "S1"
    assert RIB_LEVEL_WINDOW[0] <= check.evidence["rib_level_offset"] <= RIB_LEVEL_WINDOW[1]


def test_shift_up_and_down_fail(faulted):
    for seed in range(4):  # both directions occur among these seeds
        check = faulted(shift_vertebrae, seed).check("vertebra_order")
        assert check.status == "fail", check.evidence
        assert abs(check.evidence["rib_level_offset"]) > 0.5


def test_inversion_fails(clean):
    check = _relabel(clean, {"vertebrae_T5": "vertebrae_T6", "vertebrae_T6": "vertebrae_T5"})
    assert check.status == "fail" and check.evidence["inversions"]


def test_gap_fails(clean):
    check = _relabel(clean, {"vertebrae_T8": None})
    assert check.status == "fail" and check.evidence["gaps"] == ["vertebrae_T8"]


def test_two_vertebrae_with_one_label_warn_as_duplicate_and_spacing(clean):
    check = _relabel(clean, {"vertebrae_L3": "vertebrae_L2", "vertebrae_L4": "vertebrae_L3",
                             "vertebrae_L5": "vertebrae_L4", "vertebrae_S1": "vertebrae_L5"})
    # L2 now covers two levels: a duplicate; S1 is missing at the end, which is not a gap
    assert check.status == "warn"
    assert check.evidence["duplicates"][0]["vertebra"] == "vertebrae_L2"


def test_lumbar_labels_shifted_up_without_ribs_warn_at_the_sacrum(clean):
    table = {f"vertebrae_{a}": f"vertebrae_{b}" for a, b in
             (("L1", "T12"), ("L2", "L1"), ("L3", "L2"), ("L4", "L3"), ("L5", "L4"), ("S1", "L5"))}
    image, labels, classes = clean
    ids = {v: k for k, v in classes.items()}
    array = np.asarray(labels.array).copy()
    original = array.copy()
    keep = [ids[n] for n in (*table, "sacrum")]
    array[~np.isin(original, keep)] = 0  # no ribs: only the lumbar spine and the sacrum
    for a, b in table.items():
        array[original == ids[a]] = ids[b]
    check = run_qc(image, labels.with_data(array), classes).check("vertebra_order")
    assert check.status == "warn" and check.evidence["vertebra_above_sacrum"] == "vertebrae_L5"
