import numpy as np

from totalseg.qc import run_qc
from totalseg.qc.faults import image_flipped_under_labels


def test_clean_intensities_fit(clean_report):
    check = clean_report.check("intensities")
    assert check.status == "ok" and check.evidence["blood"] in ("with contrast", "without contrast")


def test_labels_over_the_wrong_tissue_fail(faulted):
    check = faulted(image_flipped_under_labels).check("intensities")
    assert check.status == "fail" and check.evidence["outside_range"]


def test_mr_relative_check(clean):
    image, labels, classes = clean
    mr = image.with_data(np.asarray(image.array, np.float32) + 1100)  # lungs stay darkest
    assert run_qc(mr, labels, classes, modality="mr").check("intensities").status == "ok"
    inverted = image.with_data(2000 - np.asarray(image.array, np.float32))  # lungs now brightest
    assert run_qc(inverted, labels, classes, modality="mr").check("intensities").status == "warn"
