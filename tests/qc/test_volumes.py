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


def test_ranges_scale_with_body_surface_area():
    """A 1200 ml liver is in the adult range (900-2600 ml) and for a 1.50 m, 45 kg patient (BSA
    1.37 m2: x 1.37/1.73 gives 713-2059 ml), but small for a 2.0 m, 120 kg one (BSA 2.58 m2: from 1342 ml)."""
    import pytest

    from totalseg.errors import InputError
    from totalseg.imaging.volume import LabelVolume, Volume
    from totalseg.qc.volumes import body_surface_area_m2

    affine = np.diag([10.0, 10.0, 10.0, 1.0])  # 1 ml voxels
    labels = np.zeros((20, 20, 20), np.uint8)
    labels[4:14, 4:14, 4:16] = 5  # 1200 ml, away from the border
    image = Volume(np.where(labels > 0, 60.0, -100.0), affine=affine)

    def volumes(**patient):
        return run_qc(image, LabelVolume(labels, affine=affine), {5: "liver"}, **patient).check("volumes")

    assert volumes().status == "ok" and volumes().evidence["volumes_ml"] == {"liver": 1200.0}
    small = volumes(height_m=1.50, weight_kg=45.0)
    assert small.status == "ok"
    assert small.evidence["body_surface_area_m2"] == pytest.approx(body_surface_area_m2(1.5, 45.0), abs=1e-3)
    big = volumes(height_m=2.0, weight_kg=120.0)
    assert big.status == "warn"
    assert big.evidence["outside_range"][0]["range_ml"][0] == pytest.approx(
        900 * body_surface_area_m2(2.0, 120.0) / 1.73, abs=0.1)
    with pytest.raises(InputError, match="not an adult's"):
        body_surface_area_m2(175, 70)
