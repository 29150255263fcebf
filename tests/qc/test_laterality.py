import numpy as np

from totalseg.qc import run_qc
from totalseg.qc.faults import mirror_left_right, swap_left_right
from totalseg.qc.structures import world_axis_of_voxels


def test_clean_sides_pass(clean_report):
    check = clean_report.check("laterality")
    assert check.status == "ok" and check.evidence["checked"] >= 20


def test_swapped_labels_fail_with_the_pairs(faulted):
    check = faulted(swap_left_right).check("laterality")
    assert check.status == "fail"
    assert {"left": "kidney_left", "right": "kidney_right"}.items() <= next(
        w for w in check.evidence["wrong_side"] if w.get("left") == "kidney_left").items()


def test_image_mirrored_against_its_affine_fails_on_one_sided_organs(faulted):
    check = faulted(mirror_left_right).check("laterality")
    wrong = {w.get("structure") for w in check.evidence["wrong_side"]}
    assert check.status == "fail" and {"liver", "spleen", "stomach"} <= wrong


def test_liver_left_of_the_spine_fails(clean):
    image, labels, classes = clean
    ids = {v: k for k, v in classes.items()}
    array = np.asarray(labels.array).copy()
    keep = np.isin(array, [ids["liver"], ids["vertebrae_L1"]])
    array[~keep] = 0
    report = run_qc(image, labels.with_data(array), classes)
    assert report.check("laterality").status == "ok"
    x_axis = world_axis_of_voxels(labels.affine)[0]
    mirrored = labels.with_data(np.ascontiguousarray(np.flip(array, x_axis)))
    assert run_qc(image, mirrored, classes).check("laterality").status == "fail"
