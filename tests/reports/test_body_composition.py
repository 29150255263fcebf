"""Body composition at L3 on a phantom with known muscle and fat areas, through the real code path
(CT and mask files -> canonical orientation -> L3 mid-slice -> HU windows -> areas -> JSON/HTML)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.cli import main
from totalseg.errors import InputError
from totalseg.reports.body_composition import body_composition
from totalseg.reports.body_composition.protocol import muscle_classes

SPACING = (1.0, 1.25, 2.5)  # mm; anisotropic in-plane so the pixel area matters
SHAPE = (340, 260, 24)
L3_SLICES = (6, 17)  # mid-slice 11
PI = math.pi
# Known areas (mm2) of the phantom's compartments, from its ellipses and discs.
EXPECTED_CM2 = {
    "skeletal_muscle_area": (PI * (125 * 88 - 110 * 75) + 2 * PI * 15**2 - PI * 5**2) / 100,
    "visceral_fat_area": (PI * 110 * 75 - PI * 20**2 - 2 * PI * 15**2 - PI * 30**2) / 100,
    "subcutaneous_fat_area": PI * (150 * 110 - 125 * 88) / 100,
    "intermuscular_fat_area": PI * 5**2 / 100,
}


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """In-plane RAS coordinates (mm) of each pixel centre, origin at the middle."""
    x = (np.arange(SHAPE[0]) - (SHAPE[0] - 1) / 2) * SPACING[0]
    y = (np.arange(SHAPE[1]) - (SHAPE[1] - 1) / 2) * SPACING[1]
    return np.meshgrid(x, y, indexing="ij")


def phantom() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The CT (HU, RAS array) and its masks: fat body, a muscle ring with a fat patch, two psoas
    discs, a vertebra, an abdominal cavity of fat with a soft-tissue organ."""
    x, y = _grid()

    def ellipse(a, b, cx=0.0, cy=0.0):
        return ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1

    body, outer, inner = ellipse(150, 110), ellipse(125, 88), ellipse(110, 75)
    ring = outer & ~inner
    vertebra = ellipse(20, 20, 0, -50)
    psoas_r, psoas_l = ellipse(15, 15, 35, -45), ellipse(15, 15, -35, -45)
    cavity = inner & ~vertebra & ~psoas_r & ~psoas_l
    hu = np.where(body, -100.0, -1000.0)
    hu[ring | psoas_r | psoas_l] = 45.0
    hu[ellipse(5, 5, 117.5, 0)] = -80.0  # fat inside the muscle mask: not muscle, intermuscular fat
    hu[cavity] = -90.0
    hu[ellipse(30, 30, 40, 10)] = 50.0  # an organ in the cavity: neither fat nor muscle mask
    hu[vertebra] = 400.0
    planes = {"body_trunc": body, "abdominal_cavity": cavity, "vertebrae_L3": vertebra,
              "rectus_abdominis_right": ring & (y > 0) & (x > 0), "rectus_abdominis_left": ring & (y > 0) & (x <= 0),
              "erector_spinae_right": ring & (y <= 0) & (x > 0), "erector_spinae_left": ring & (y <= 0) & (x <= 0),
              "psoas_major_right": psoas_r, "psoas_major_left": psoas_l}
    ct = np.repeat(hu[:, :, None], SHAPE[2], axis=2)
    masks = {name: np.repeat(plane[:, :, None], SHAPE[2], axis=2) for name, plane in planes.items()}
    masks["vertebrae_L3"][:, :, : L3_SLICES[0]] = False
    masks["vertebrae_L3"][:, :, L3_SLICES[1] + 1:] = False
    return ct, masks


def write_lps(array: np.ndarray, path: Path, dtype) -> None:
    """Store a RAS array as LPS on disk (x and y flipped), so the report must reorient it."""
    affine = np.diag([-SPACING[0], -SPACING[1], SPACING[2], 1.0])
    affine[:3, 3] = [(SHAPE[0] - 1) * SPACING[0] - 170.0, (SHAPE[1] - 1) * SPACING[1] - 160.0, -30.0]
    nib.save(nib.Nifti1Image(np.ascontiguousarray(array[::-1, ::-1]).astype(dtype), affine), path)


@pytest.fixture
def case(tmp_path) -> tuple[Path, Path]:
    ct, masks = phantom()
    write_lps(ct, tmp_path / "ct.nii.gz", np.int16)
    seg = tmp_path / "seg"
    (seg / "abdominal_muscles").mkdir(parents=True)
    for name in muscle_classes():  # the task's other muscles: empty masks, as the tools write them
        write_lps(masks.get(name, np.zeros(SHAPE, bool)), seg / "abdominal_muscles" / f"{name}.nii.gz", np.uint8)
    for name in ("body_trunc", "abdominal_cavity", "vertebrae_L3"):
        write_lps(masks[name], seg / f"{name}.nii.gz", np.uint8)
    return tmp_path / "ct.nii.gz", seg


def test_phantom_areas_within_two_percent(case, tmp_path):
    ct, seg = case
    result = body_composition(ct, tmp_path / "out", seg_dirs=[seg], height_m=1.7, sex="male", quiet=True)
    m = result["measurements"]
    assert result["status"] == "measured" and result["level"]["l3_slices"] == list(L3_SLICES)
    assert result["level"]["slice_index"] == 11
    for key in ("skeletal_muscle_area", "visceral_fat_area", "subcutaneous_fat_area"):
        assert m[key]["value"] == pytest.approx(EXPECTED_CM2[key], rel=0.02), key
    assert m["intermuscular_fat_area"]["value"] == pytest.approx(EXPECTED_CM2["intermuscular_fat_area"], rel=0.15)
    assert m["skeletal_muscle_index"]["value"] == pytest.approx(EXPECTED_CM2["skeletal_muscle_area"] / 1.7**2,
                                                                rel=0.02)
    assert m["muscle_attenuation"]["value"] == 45.0
    assert m["skeletal_muscle_index"]["value"] == pytest.approx(34.5, abs=0.5)  # below Prado's 52.4 for men
    prado = [r for r in result["sarcopenia"] if r["source"].startswith("Prado")]
    assert [(r["threshold"], r["below_cutoff"]) for r in prado] == [(52.4, True)]
    martin = [r for r in result["sarcopenia"] if r["source"].startswith("Martin")]
    assert [(r["threshold"], r["below_cutoff"], r["reason"][:12]) for r in martin] == [(None, None, "needs the BM")]
    files = json.loads((tmp_path / "out" / "body_composition.json").read_text())
    assert files == result
    html = (tmp_path / "out" / "body_composition.html").read_text()
    assert "data:image/png;base64," in html and "Skeletal muscle index" in html


def test_hu_windows_decide_not_the_masks(case, tmp_path):
    """The same masks on a CT whose muscle is brighter than 150 HU: no skeletal muscle area."""
    ct_path, seg = case
    img = nib.load(ct_path)
    data = np.asanyarray(img.dataobj).copy()
    data[data == 45] = 200
    nib.save(nib.Nifti1Image(data, img.affine), ct_path)
    result = body_composition(ct_path, tmp_path / "out", seg_dirs=[seg], quiet=True)
    assert result["measurements"]["skeletal_muscle_area"]["value"] == 0.0
    assert result["measurements"]["skeletal_muscle_index"]["status"] == "not measurable"


@pytest.mark.parametrize(("slices", "reason"), [(None, "not in the field of view"), ((0, 9), "cut by the field")])
def test_l3_missing_or_cut_is_not_measurable(case, tmp_path, slices, reason):
    ct, seg = case
    l3 = np.zeros(SHAPE, bool)
    if slices:
        _, masks = phantom()
        l3[:, :, slices[0]:slices[1] + 1] = masks["vertebrae_L3"][:, :, 11:12]
    write_lps(l3, seg / "vertebrae_L3.nii.gz", np.uint8)
    result = body_composition(ct, tmp_path / "out", seg_dirs=[seg], quiet=True)
    assert result["status"] == "not measurable" and reason in result["reason"]
    assert result["reason"].startswith("not measurable, because")
    assert reason in (tmp_path / "out" / "body_composition.html").read_text()


def test_body_cut_by_the_in_plane_field_of_view(case, tmp_path):
    ct, seg = case
    write_lps(np.ones(SHAPE, bool), seg / "body_trunc.nii.gz", np.uint8)
    sat = body_composition(ct, tmp_path / "out", seg_dirs=[seg], quiet=True)["measurements"]["subcutaneous_fat_area"]
    assert sat["value"] is None and "edge of the slice" in sat["reason"]


def test_cli_writes_the_report_and_refuses_bad_patient_data(case, tmp_path, capsys):
    ct, seg = case
    out = tmp_path / "out"
    args = ["report", "body_composition", "-i", str(ct), "-o", str(out), "--seg-dir", str(seg), "-d", "cpu"]
    assert main([*args, "--height-m", "1.6", "--sex", "female", "--weight-kg", "70"]) == 0
    result = json.loads((out / "body_composition.json").read_text())
    assert result["patient"]["bmi"] == pytest.approx(70 / 1.6**2, abs=0.01)
    martin = [r for r in result["sarcopenia"] if r["source"].startswith("Martin")]
    assert [r["threshold"] for r in martin] == [41.0]
    assert main([*args, "--height-m", "170"]) == 2
    assert "height 170.0 m" in capsys.readouterr().err


def test_masks_off_the_ct_grid_are_refused(case, tmp_path):
    ct, seg = case
    nib.save(nib.Nifti1Image(np.zeros((10, 10, 10), np.uint8), np.eye(4)), seg / "body_trunc.nii.gz")
    with pytest.raises(InputError, match="differs from the image's"):
        body_composition(ct, tmp_path / "out", seg_dirs=[seg], quiet=True)
