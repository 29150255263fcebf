"""Folder evaluation and the ``totalseg evaluate`` command on small label maps with known scores."""

from __future__ import annotations

import json
import math

import nibabel as nib
import numpy as np
import pytest

from totalseg.cli import main
from totalseg.errors import InputError
from totalseg.evaluation.evaluate import evaluate_folders, summary_table
from totalseg.io.nifti_ext import add_label_map_to_nifti

AFFINE = np.diag([2.0, 1.0, 1.0, 1.0])


def save(array, path, names=None):
    img = nib.Nifti1Image(array.astype(np.uint8), AFFINE)
    nib.save(add_label_map_to_nifti(img, names) if names else img, path)


@pytest.fixture
def folders(tmp_path):
    """Two cases: case a perfect, case b with the liver shifted by one 2 mm voxel and no spleen."""
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    gt = np.zeros((12, 12, 12), np.uint8)
    gt[2:6, 2:6, 2:6] = 1
    gt[7:10, 7:10, 7:10] = 2
    (gt_dir / "dataset.json").write_text(json.dumps({"labels": {"background": 0, "liver": 1, "spleen": 2,
                                                                 "kidney": 3}}))
    save(gt, gt_dir / "a.nii.gz")
    save(gt, gt_dir / "b.nii.gz")
    save(gt, pred_dir / "a.nii.gz")
    shifted = np.zeros_like(gt)
    shifted[3:7, 2:6, 2:6] = 1
    # case b predicted as per-class masks (the layout `totalseg segment` writes)
    (pred_dir / "b").mkdir()
    save(shifted, pred_dir / "b" / "liver.nii.gz")
    save(np.zeros_like(gt), pred_dir / "b" / "spleen.nii.gz")
    return gt_dir, pred_dir


def _shifted_liver_nsd(tolerance: float) -> float:
    """Case b's liver as DeepMind's surface-distance library scores it on the whole image."""
    import surface_distance

    gt, pred = np.zeros((12, 12, 12), bool), np.zeros((12, 12, 12), bool)
    gt[2:6, 2:6, 2:6], pred[3:7, 2:6, 2:6] = True, True
    spacing = tuple(float(s) for s in np.linalg.norm(AFFINE[:3, :3], axis=0))
    distances = surface_distance.compute_surface_distances(gt, pred, spacing)
    return surface_distance.compute_surface_dice_at_tolerance(distances, tolerance)


def test_evaluate_folders_known_scores(folders):
    result = evaluate_folders(*folders, tolerance_mm=1.5)
    assert result.classes == ("liver", "spleen", "kidney")
    assert result.per_case["a"]["liver"] == {"dice": 1.0, "nsd": 1.0}
    assert result.per_case["b"]["liver"]["dice"] == pytest.approx(0.75)
    assert result.per_case["b"]["liver"]["nsd"] == pytest.approx(_shifted_liver_nsd(1.5))
    assert result.per_case["b"]["spleen"] == {"dice": 0.0, "nsd": 0.0}
    assert math.isnan(result.per_case["a"]["kidney"]["dice"])
    per_class = result.per_class()
    assert per_class["liver"]["dice"] == pytest.approx(0.875)
    assert per_class["spleen"]["dice"] == pytest.approx(0.5) and per_class["spleen"]["n"] == 2
    assert per_class["kidney"]["n"] == 0
    assert result.mean()["dice"] == pytest.approx((0.875 + 0.5) / 2)  # kidney never present: skipped
    assert "mean" in summary_table(result)


def test_cli_writes_json_and_csv(folders, tmp_path, capsys):
    gt_dir, pred_dir = folders
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir), "--out", str(out),
                 "--classes", "liver", "--tolerance", "1.5"]) == 0
    doc = json.loads(out.read_text())
    assert doc["per_case"]["b"]["liver"]["dice"] == pytest.approx(0.75)
    assert doc["mean"]["dice"] == pytest.approx(0.875)
    assert list(doc["per_class"]) == ["liver"]
    rows = out.with_suffix(".csv").read_text().splitlines()
    assert rows[0] == "case,class,dice,nsd" and rows[2] == f"b,liver,0.750000,{_shifted_liver_nsd(1.5):.6f}"
    assert "liver" in capsys.readouterr().out


def test_label_names_from_the_nifti_extension(tmp_path):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    gt = np.zeros((8, 8, 8), np.uint8)
    gt[1:4, 1:4, 1:4] = 1
    gt[5:7, 5:7, 5:7] = 2
    save(gt, gt_dir / "c.nii.gz", {1: "liver", 2: "spleen"})
    swapped = np.where(gt == 1, 2, np.where(gt == 2, 1, 0))
    save(swapped, pred_dir / "c.nii.gz", {1: "spleen", 2: "liver"})  # same classes, other ids
    result = evaluate_folders(gt_dir, pred_dir)
    assert result.per_case["c"] == {"liver": {"dice": 1.0, "nsd": 1.0}, "spleen": {"dice": 1.0, "nsd": 1.0}}


def test_errors_are_one_line(folders, tmp_path, capsys):
    gt_dir, pred_dir = folders
    (pred_dir / "a.nii.gz").unlink()
    with pytest.raises(InputError, match="no prediction for 1 case"):
        evaluate_folders(gt_dir, pred_dir)
    with pytest.raises(InputError, match="unknown class"):
        evaluate_folders(gt_dir, gt_dir, classes=["lung"])
    out = str(tmp_path / "m.json")
    code = main(["evaluate", "--gt", str(tmp_path / "nope"), "--pred", str(pred_dir), "--out", out])
    assert code == 2 and "ground truth folder not found" in capsys.readouterr().err
    save(np.zeros((12, 12, 11)), pred_dir / "a.nii.gz")
    with pytest.raises(InputError, match="differ in shape"):
        evaluate_folders(gt_dir, pred_dir)
