"""clinical.json on a synthetic abdomen with known answers: HU, volumes (anisotropic voxels), aorta diameter."""

import doctest
import json

import numpy as np
import pytest

from totalseg.anatomy import class_map
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.measure import aorta as aorta_module
from totalseg.measure import clinical as clinical_module
from totalseg.measure.aorta import max_perpendicular_diameter
from totalseg.measure.clinical import clinical_measurements, write_clinical

SPACING = (0.9, 0.9, 2.5)  # anisotropic, mm
SHAPE = (140, 140, 80)  # 126 x 126 x 200 mm
CLASSES = class_map("total")
IDS = {name: i for i, name in CLASSES.items()}


def abdomen(*, liver_hu=35, spleen_hu=50, l1_hu=150, aorta_hu=40, portal_hu=None, aorta_radius_mm=10.0,
            tilt_deg=0.0, tube_z_mm=(10.0, 190.0), liver_centre=(30.0, 75.0, 100.0), with_l1=True, with_aorta=True,
            with_organs=True, with_kidney=False):
    """A RAS abdomen: ellipsoid liver and spleen, box vertebrae (cortical shell 500 HU), a cylinder aorta.

    Returns the image (int16 HU), the labels and the exact voxel counts of liver and spleen.
    """
    grid = np.indices(SHAPE, dtype=np.float32) * np.array(SPACING, np.float32)[:, None, None, None]
    x, y, z = grid
    image = np.full(SHAPE, 40, np.int16)
    labels = np.zeros(SHAPE, np.uint8)

    def ellipsoid(centre, axes):
        return sum(((c - c0) / a) ** 2 for c, c0, a in zip((x, y, z), centre, axes)) <= 1

    liver = ellipsoid(liver_centre, (22.0, 28.0, 40.0)) & with_organs
    spleen = ellipsoid((100.0, 70.0, 110.0), (12.0, 20.0, 25.0)) & with_organs
    for mask, name, hu in ((liver, "liver", liver_hu), (spleen, "spleen", spleen_hu)):
        labels[mask], image[mask] = IDS[name], hu
    # Vertebral bodies 40 mm wide, 30 mm deep (y 15..45, posterior to the aorta), 25 mm tall, 5 mm apart.
    for name, z0 in (("vertebrae_L2", 30.0), ("vertebrae_L1", 60.0), ("vertebrae_T12", 90.0)):
        if name == "vertebrae_L1" and not with_l1:
            continue
        body = (abs(x - 70.0) <= 20) & (y >= 15) & (y <= 45) & (z >= z0) & (z < z0 + 25)
        core = (abs(x - 70.0) <= 18) & (y >= 17) & (y <= 43) & (z >= z0 + 2.5) & (z < z0 + 22.5)
        labels[body], image[body] = IDS[name], 500
        image[core] = l1_hu
    if with_aorta:
        tilt = np.deg2rad(tilt_deg)
        axis = np.array([np.sin(tilt), 0.0, np.cos(tilt)])
        rel = np.stack([x - 70.0, y - 60.0, z - 100.0])
        along = np.tensordot(axis, rel, axes=1)
        dist2 = (rel**2).sum(axis=0) - along**2
        tube = (dist2 <= aorta_radius_mm**2) & (z >= tube_z_mm[0]) & (z <= tube_z_mm[1]) & (labels == 0)
        labels[tube], image[tube] = IDS["aorta"], aorta_hu
    if with_kidney:
        kidney = ellipsoid((108.0, 40.0, 70.0), (10.0, 10.0, 25.0)) & (labels == 0)
        labels[kidney], image[kidney] = IDS["kidney_left"], 30
    if portal_hu is not None:
        portal = ellipsoid((58.0, 85.0, 100.0), (3.0, 3.0, 15.0))
        labels[portal], image[portal] = IDS["portal_vein_and_splenic_vein"], portal_hu
    affine = np.diag([*SPACING, 1.0])
    affine[:3, 3] = (-60.0, -40.0, -300.0)
    vol = Volume(image, affine=affine)
    return vol, LabelVolume(labels, affine=affine), int(liver.sum()), int(spleen.sum())


def as_lps(vol, labels):
    """The same scan stored LPS (x and y flipped): measurements must not change."""
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = [(n - 1) for n in vol.shape[:2]]
    affine = vol.affine @ flip
    return (Volume(np.ascontiguousarray(vol.array[::-1, ::-1]), affine=affine),
            LabelVolume(np.ascontiguousarray(labels.array[::-1, ::-1]), affine=affine))


@pytest.fixture(scope="module")
def plain():
    vol, labels, n_liver, n_spleen = abdomen()
    return vol, labels, n_liver, n_spleen, clinical_measurements(vol, labels, CLASSES)


def test_known_attenuation_and_volumes(plain):
    _, _, n_liver, n_spleen, out = plain
    m = out["measurements"]
    assert out["contrast_phase"]["phase"] == "non-contrast"
    assert out["contrast_phase"]["aorta_median_hu"] == 40.0
    l1 = m["l1_trabecular_attenuation"]
    assert l1["status"] == "measured" and l1["value"] == 150.0  # the 500 HU cortex is eroded away
    assert l1["flag"] == "low bone density" and l1["core_volume_ml"] > 1.0
    assert m["liver_attenuation"]["value"] == 35.0 and m["liver_attenuation"]["flag"] == "steatosis likely"
    assert m["liver_attenuation"]["valid"] is True
    assert m["liver_minus_spleen_attenuation"]["value"] == -15.0
    assert m["liver_minus_spleen_attenuation"]["flag"] == "steatosis likely"
    voxel_ml = 0.9 * 0.9 * 2.5 / 1000
    assert m["liver_volume"]["value"] == round(n_liver * voxel_ml, 1)
    assert m["liver_volume"]["value"] == pytest.approx(4 / 3 * np.pi * 22 * 28 * 40 / 1000, rel=0.02)
    assert m["liver_volume"]["flag"] == "low"  # 103 mL against 843-1719 mL
    assert m["spleen_volume"]["value"] == round(n_spleen * voxel_ml, 1)
    assert m["spleen_volume"]["value"] == pytest.approx(4 / 3 * np.pi * 12 * 20 * 25 / 1000, rel=0.03)
    assert m["spleen_volume"]["flag"] == "low" and "below the reference 107.2-314.5 mL" in m["spleen_volume"]["finding"]
    assert m["kidney_left_volume"]["status"] == "not measurable"
    assert "kidney_left not found" in m["kidney_left_volume"]["reason"]
    for entry in m.values():
        assert entry["source"] and entry["finding"]


def test_aorta_diameter_of_cylinder(plain):
    aorta = plain[4]["measurements"]["abdominal_aorta_max_diameter"]
    assert aorta["status"] == "measured" and aorta["flag"] == "normal" and aorta["coverage"] == "complete"
    assert aorta["value"] == pytest.approx(20.0, abs=1.0)
    assert aorta["equivalent_diameter_mm"] == pytest.approx(20.0, abs=1.0)
    assert aorta["thresholds"]["aneurysm_min_mm"] == 30


def test_aneurysm_in_tilted_cylinder():
    """A 36 mm tube tilted 30 degrees: axial cuts are 41.6 mm long, the perpendicular diameter is 36."""
    vol, labels, *_ = abdomen(aorta_radius_mm=18.0, tilt_deg=30.0, tube_z_mm=(55.0, 150.0), with_organs=False)
    aorta = clinical_measurements(vol, labels, CLASSES)["measurements"]["abdominal_aorta_max_diameter"]
    assert aorta["value"] == pytest.approx(36.0, abs=1.5)
    assert aorta["flag"] == "aneurysm" and "aneurysm" in aorta["finding"].lower()


def test_same_answers_stored_lps(plain):
    vol, labels, *_ = plain
    ras = plain[4]
    lps = clinical_measurements(*as_lps(vol, labels), CLASSES)
    assert lps["measurements"] == ras["measurements"] | {
        "abdominal_aorta_max_diameter": lps["measurements"]["abdominal_aorta_max_diameter"]}
    assert lps["measurements"]["abdominal_aorta_max_diameter"]["value"] == pytest.approx(
        ras["measurements"]["abdominal_aorta_max_diameter"]["value"], abs=0.3)


@pytest.mark.parametrize(("portal_hu", "phase"), [(100, "arterial"), (200, "portal venous or later")])
def test_contrast_phase_invalidates_steatosis(portal_hu, phase):
    vol, labels, *_ = abdomen(aorta_hu=250, portal_hu=portal_hu, liver_hu=100, l1_hu=100, with_aorta=True)
    out = clinical_measurements(vol, labels, CLASSES)
    assert out["contrast_phase"]["phase"] == phase
    assert out["contrast_phase"]["portal_vein_median_hu"] == float(portal_hu)
    liver = out["measurements"]["liver_attenuation"]
    assert liver["valid"] is False and "Not valid for steatosis" in liver["finding"]
    l1 = out["measurements"]["l1_trabecular_attenuation"]
    assert l1["flag"] == "osteoporosis likely" and "Contrast-enhanced" in l1["finding"]


def test_cut_off_and_missing_structures_are_not_measurable():
    # The liver reaches x = 0: its volume must not be reported; no L1, no aorta.
    vol, labels, *_ = abdomen(liver_centre=(10.0, 75.0, 100.0), with_l1=False, with_aorta=False)
    m = clinical_measurements(vol, labels, CLASSES)["measurements"]
    assert m["liver_volume"]["status"] == "not measurable" and m["liver_volume"]["value"] is None
    assert "edge of the field of view" in m["liver_volume"]["reason"]
    assert m["l1_trabecular_attenuation"]["status"] == "not measurable"
    assert m["abdominal_aorta_max_diameter"]["status"] == "not measurable"
    assert m["liver_attenuation"]["status"] == "measured"  # attenuation needs no complete organ


def test_structures_outside_the_roi_subset(plain):
    vol, labels, *_ = plain
    m = clinical_measurements(vol, labels, {IDS["liver"]: "liver"})["measurements"]
    assert m["liver_volume"]["status"] == "measured"
    assert "was not segmented" in m["spleen_volume"]["reason"]
    assert "was not segmented" in m["abdominal_aorta_max_diameter"]["reason"]
    assert m["l1_trabecular_attenuation"]["status"] == "not measurable"


def test_aorta_level_from_the_kidneys_without_vertebra_levels():
    """The MR task has no vertebra levels: the abdominal aorta is taken below the upper kidney pole."""
    vol, labels, *_ = abdomen(with_kidney=True)
    mr_like = {IDS[n]: n for n in ("liver", "spleen", "kidney_left", "aorta")}
    out = clinical_measurements(vol, labels, mr_like, modality="mr")["measurements"]
    aorta = out["abdominal_aorta_max_diameter"]
    assert aorta["status"] == "measured" and aorta["value"] == pytest.approx(20.0, abs=1.0)
    assert "upper pole of the higher kidney" in aorta["method"]
    assert aorta["level_z_mm"] < -300 + 95  # below the kidney top (z 95 mm above the origin at -300)
    assert out["kidney_left_volume"]["value"] == pytest.approx(4 / 3 * np.pi * 10 * 10 * 25 / 1000, rel=0.05)
    no_kidney = clinical_measurements(vol, labels, {IDS["aorta"]: "aorta"}, modality="mr")["measurements"]
    assert "no vertebra levels and no kidney" in no_kidney["abdominal_aorta_max_diameter"]["reason"]


def test_mr_gives_volumes_only(tmp_path, plain):
    vol, labels, *_ = plain
    out = clinical_measurements(vol, labels, CLASSES, modality="mr")
    m = out["measurements"]
    assert out["contrast_phase"]["phase"] == "not applicable"
    assert m["l1_trabecular_attenuation"]["status"] == "not measurable"
    assert "needs a CT" in m["liver_attenuation"]["reason"]
    assert m["liver_volume"]["status"] == "measured"
    path = write_clinical(out, tmp_path / "clinical.json")
    assert json.loads(path.read_text()) == out


def test_diameter_of_straight_tube_known_answer():
    x, y = np.mgrid[:60, :60]
    disk = ((x - 30) ** 2 + (y - 30) ** 2) * 0.5**2 <= 11.0**2  # radius 11 mm on a 0.5 mm grid
    tube = np.repeat(disk[:, :, None], 12, axis=2)
    result = max_perpendicular_diameter(tube, (0.5, 0.5, 2.0), range(12))
    assert result.max_mm == pytest.approx(22.0, abs=0.6)
    assert result.equivalent_mm == pytest.approx(22.0, abs=0.6)
    assert max_perpendicular_diameter(tube[:, :, :2], (0.5, 0.5, 2.0), range(2)) is None  # < 3 slices


def test_docstring_examples():
    assert doctest.testmod(clinical_module).failed == 0
    assert doctest.testmod(aorta_module).failed == 0
