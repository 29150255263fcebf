import numpy as np

from totalseg.qc import run_qc
from totalseg.qc.faults import scale_organ


def test_clean_volumes_in_range(clean_report):
    check = clean_report.check("volumes")
    assert check.status == "ok"
    assert set(check.evidence["volumes_ml"]) == {"liver", "spleen", "kidney_left", "kidney_right", "lungs"}
    assert 900 <= check.evidence["volumes_ml"]["liver"] <= 2600


def test_scaled_organs_fire(faulted):
    for seed in range(4):
        check = faulted(scale_organ, seed).check("volumes")
        assert check.status in ("warn", "fail"), check.evidence


def test_one_kidney_halved_breaks_the_ratio(clean):
    image, labels, classes = clean
    ids = {v: k for k, v in classes.items()}
    array = np.asarray(labels.array).copy()
    kidney = np.argwhere(array == ids["kidney_left"])
    lower = kidney[kidney[:, 0] < np.median(kidney[:, 0])]
    array[tuple(lower.T)] = 0
    check = run_qc(image, labels.with_data(array), classes).check("volumes")
    ratios = [o for o in check.evidence["outside_range"] if "ratio" in o]
    assert check.status != "ok" and ratios and ratios[0]["ratio"] == "kidney_left/kidney_right"
