"""``totalseg report pulmonary``: inputs (mask folder, multilabel file, missing masks), outputs
(JSON, HTML), the command line, and the engine's model runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.cli import main
from totalseg.errors import InputError
from totalseg.io import add_label_map_to_nifti
from totalseg.reports.pulmonary import model_runs
from totalseg.reports.pulmonary.grid import header_zooms
from totalseg.reports.pulmonary.masks import masks_from_path
from totalseg.reports.pulmonary.pipeline import pulmonary_report
from totalseg.settings import Settings

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "pulmonary_report_golden"
NAMES = ("pulmonary_artery", "pul_annulus", "pul_sinotubular_junction", "pul_bifurcation", "pul_left_start",
         "pul_right_start")


def _official(case: str) -> dict:
    return json.loads((GOLDEN / case / "official.json").read_text())["landmarks"]


def test_cli_writes_json_and_page(tmp_path, capsys):
    case = GOLDEN / "cut_off"
    code = main(["report", "pulmonary", "-i", str(case / "ct.nii.gz"), "-o", str(tmp_path / "out"),
                 "--seg-dir", str(case / "models"), "--no-models"])
    assert code == 0
    report = json.loads((tmp_path / "out" / "pulmonary_report.json").read_text())
    assert report["landmarks"] == _official("cut_off")
    page = (tmp_path / "out" / "pulmonary_report.html").read_text()
    assert page.count("<img") == 2  # the two measured landmarks
    assert "bifurcation: not measurable, because the pul_bifurcation mask is empty" in page
    assert "3 bifurcation: not measurable" in capsys.readouterr().out


def test_cli_refuses_missing_ct_in_one_line(tmp_path, capsys):
    code = main(["report", "pulmonary", "-i", str(tmp_path / "none.nii.gz"), "-o", str(tmp_path / "out")])
    assert code == 2
    assert "no such CT file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_multilabel_seg_gives_the_same_report(tmp_path):
    folder = GOLDEN / "full" / "models"
    first = nib.load(folder / "pulmonary_artery.nii.gz")
    labels = np.zeros(first.shape, np.uint8)
    for label, name in enumerate(NAMES[1:], start=1):  # landmarks: their own multilabel file
        labels[np.asanyarray(nib.load(folder / f"{name}.nii.gz").dataobj) > 0] = label
    nib.save(add_label_map_to_nifti(nib.Nifti1Image(labels, first.affine), list(NAMES[1:])), tmp_path / "lm.nii.gz")
    artery_dir = tmp_path / "artery"
    artery_dir.mkdir()
    shutil.copy(folder / "pulmonary_artery.nii.gz", artery_dir)
    report = pulmonary_report(GOLDEN / "full" / "ct.nii.gz", tmp_path / "out", seg=[artery_dir, tmp_path / "lm.nii.gz"],
                              run_models=False)
    assert json.loads(json.dumps(report["landmarks"])) == _official("full")


def test_missing_masks_are_not_measurable_with_the_reason(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(GOLDEN / "full" / "models", models)
    (models / "pul_left_start.nii.gz").unlink()
    report = pulmonary_report(GOLDEN / "full" / "ct.nii.gz", tmp_path / "out", seg_dir=models, run_models=False)
    assert report["landmarks"]["4"]["diameter"] is None
    assert "pul_left_start mask (the pulmonary_artery_landmarks task, licensed" in report["not_measurable"]["4"]
    official = _official("full")
    assert [report["landmarks"][i] == official[i] for i in "1235"] == [True] * 4
    (models / "pulmonary_artery.nii.gz").unlink()
    report = pulmonary_report(GOLDEN / "full" / "ct.nii.gz", tmp_path / "out", seg_dir=models, run_models=False)
    assert set(report["not_measurable"]) == set("12345")
    assert "the open total task has no pulmonary artery class" in report["not_measurable"]["1"]


def test_engine_without_licence_says_so(tmp_path):
    settings = Settings(home_dir=tmp_path / "home", weights_dir=tmp_path / "weights")
    report = pulmonary_report(GOLDEN / "full" / "ct.nii.gz", tmp_path / "out", settings=settings)
    assert set(report["not_measurable"]) == set("12345")
    assert "our engine cannot run heartchambers_highres: task heartchambers_highres needs a licence key" in \
        report["not_measurable"]["3"]


def test_seg_path_must_exist(tmp_path):
    with pytest.raises(InputError, match="no such segmentation file or folder"):
        masks_from_path(tmp_path / "missing.nii.gz")


def test_heart_crop_is_the_heart_plus_20mm_on_a_08mm_grid(monkeypatch):
    ct = nib.load(GOLDEN / "full" / "ct.nii.gz")
    heart = np.zeros(ct.shape, np.uint8)
    heart[30:40, 20:30, 20:30] = 1  # 15 mm cube at 1.5 mm

    def fake_segment(img, task, **kwargs):
        assert (task, kwargs["fast"], kwargs["roi"]) == ("total", True, ["heart"])
        return {"heart": nib.Nifti1Image(heart, img.affine)}

    monkeypatch.setattr(model_runs, "_segment_masks", fake_segment)
    crop = model_runs.heart_crop(ct, device="cpu", settings=None, quiet=True)
    assert header_zooms(crop).tolist() == pytest.approx([0.8] * 3)
    assert crop.get_data_dtype() == np.int16
    # 10 voxels + 2 x 13 (whole voxels in 20 mm) = 36 voxels of 1.5 mm = 54 mm -> 67.5 -> 68 voxels of 0.8 mm
    assert crop.shape == (68, 68, 68)
    assert np.allclose(crop.affine[:3, 3], ct.affine[:3, :3] @ [17, 7, 7] + ct.affine[:3, 3])


def test_engine_masks_are_measured_on_the_heart_crop(monkeypatch, tmp_path):
    """All masks from the engine: the report measures on the engine's CT, as the official --run_models."""
    ct = nib.load(GOLDEN / "seeded" / "ct.nii.gz")
    masks = {name: nib.load(GOLDEN / "seeded" / "models" / f"{name}.nii.gz") for name in NAMES}
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text(json.dumps({"license_number": "aca_TESTTESTTEST00"}))
    monkeypatch.setattr(model_runs, "heart_crop", lambda *a, **k: ct)
    monkeypatch.setattr(model_runs, "_segment_masks", lambda img, task, **k: masks)
    report = pulmonary_report(GOLDEN / "full" / "ct.nii.gz", tmp_path / "out",
                              settings=Settings(home_dir=home, weights_dir=tmp_path))
    official = json.loads((GOLDEN / "seeded" / "official.json").read_text())["landmarks"]
    assert report["landmarks"]["1"] == official["1"]
    assert report["landmarks"]["1"]["diameter"] is not None
    kept = sorted(p.name for p in (tmp_path / "out" / "models").iterdir())
    assert kept == sorted(["ct_cropped.nii.gz", *(f"{name}.nii.gz" for name in NAMES)])


def test_nodeinfo_metadata_equals_official(tmp_path):
    case = GOLDEN / "full"
    report = pulmonary_report(case / "ct.nii.gz", tmp_path / "out", seg_dir=case / "models",
                              nodeinfo=GOLDEN / "nodeinfo.json", run_models=False)
    expected = json.loads((GOLDEN / "metadata.json").read_text())
    assert list(report["metadata"].items()) == list(expected.items())


@pytest.mark.parametrize(("age", "words"), [("012W", "in weeks"), ("003Y", "outside 5-150"), ("abc", "not a number")])
def test_nodeinfo_age_the_official_stops_on_is_refused(tmp_path, age, words):
    path = tmp_path / "nodeinfo.json"
    path.write_text(json.dumps({"PatientAge": age}))
    with pytest.raises(InputError, match=words):
        pulmonary_report(GOLDEN / "full" / "ct.nii.gz", tmp_path / "out", nodeinfo=path, run_models=False)
    assert not (tmp_path / "out").exists()


def test_open_total_masks_alone_measure_nothing_and_say_why(tmp_path):
    ct = nib.load(GOLDEN / "full" / "ct.nii.gz")
    labels = np.zeros(ct.shape, np.uint8)
    labels[10:20, 10:20, 10:20] = 51
    labels[30:35, 30:35, 30:35] = 53
    nib.save(add_label_map_to_nifti(nib.Nifti1Image(labels, ct.affine), {51: "heart", 53: "pulmonary_vein"}),
             tmp_path / "total.nii.gz")
    report = pulmonary_report(GOLDEN / "full" / "ct.nii.gz", tmp_path / "out", seg=[tmp_path / "total.nii.gz"],
                              run_models=False)
    assert all(entry["diameter"] is None for entry in report["landmarks"].values())
    assert all("the open total task has no pulmonary artery class" in why for why in report["not_measurable"].values())
    page = (tmp_path / "out" / "pulmonary_report.html").read_text()
    assert "not measurable, because the pulmonary_artery mask" in page


def test_engine_failure_becomes_the_reason(monkeypatch, tmp_path):
    from totalseg.errors import WeightsError

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text(json.dumps({"license_number": "aca_TESTTESTTEST00"}))

    def no_weights(*args, **kwargs):
        raise WeightsError("model 297 is not in the weights folder")

    monkeypatch.setattr(model_runs, "_segment_masks", no_weights)
    report = pulmonary_report(GOLDEN / "full" / "ct.nii.gz", tmp_path / "out",
                              settings=Settings(home_dir=home, weights_dir=tmp_path / "weights"))
    assert "could not crop to the heart for heartchambers_highres" in report["not_measurable"]["1"]
    assert "model 297 is not in the weights folder" in report["not_measurable"]["1"]
