"""``totalseg dataset ...`` end to end on mock datasets: outputs, exit codes, skipped subjects, bad input."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from totalseg.anatomy import class_map
from totalseg.cli import main
from totalseg.dataset.layout import open_dataset
from totalseg.dataset.synthetic import write_mock_dataset
from totalseg.dataset.tables import read_table


@pytest.fixture(scope="module")
def mri_root(tmp_path_factory):
    return write_mock_dataset(tmp_path_factory.mktemp("mri") / "data", n_subjects=5, shape=(12, 10, 8),
                              modality="mr", seed=2)


def test_index_and_check(mock_copy, tmp_path, capsys):
    (mock_copy / "s0004" / "segmentations" / "aorta.nii.gz").unlink()
    out = tmp_path / "index.csv"
    assert main(["dataset", "index", str(mock_copy), "--out", str(out), "--list-classes"]) == 0
    printed = capsys.readouterr().out
    assert "    1 spleen\n" in printed and "  117 costal_cartilages\n" in printed
    assert "modality: ct  image: ct.nii.gz  subjects: 10" in printed and "classes: total (117)" in printed
    assert "split: test 2, train 7, val 1" in printed and "missing masks: 1 in 1 subjects" in printed
    table = read_table(out)
    assert table["subject"][4] == "s0004" and table["masks"][4] == "116" and table["missing_masks"][4] == "aorta"
    assert table["image"][0] == "s0000/ct.nii.gz"
    assert main(["dataset", "check", str(mock_copy), "--quick", "-q", "--workers", "1"]) == 1
    printed = capsys.readouterr().out
    assert "missing    s0004/segmentations/aorta.nii.gz: mask file missing" in printed
    assert "checked 10 subjects, 1179 files: 1 missing" in printed


def test_splits_json(mock_root, tmp_path, capsys):
    out = tmp_path / "folds.json"
    assert main(["dataset", "splits", str(mock_root), "--method", "kfold", "--folds", "4", "--out", str(out)]) == 0
    folds = json.loads(out.read_text())
    assert len(folds) == 4 and sorted(s for f in folds for s in f["val"]) == [f"s{i:04d}" for i in range(8)]
    assert "kfold: fold 0: 6/2" in capsys.readouterr().out  # k-fold over the official train + val subjects
    assert main(["dataset", "splits", str(mock_root), "--method", "ratio"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "train": [f"s{i:04d}" for i in range(6)], "val": ["s0006", "s0007"], "test": ["s0008", "s0009"]}


def test_manifest_and_stats_list_what_was_skipped(mock_copy, tmp_path, capsys):
    truncated = mock_copy / "s0003" / "segmentations" / "spleen.nii.gz"
    truncated.write_bytes(truncated.read_bytes()[:60])
    manifest = tmp_path / "m.parquet"
    assert main(["dataset", "manifest", str(mock_copy), "--every", "5", "--out", str(manifest), "-q",
                 "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert "skipped 1 subjects:" in captured.err and "s0003/segmentations/spleen.nii.gz" in captured.err
    table = read_table(manifest)
    assert list(table)[:4] == ["path", "slice", "split", "spleen"] and len(table) == 3 + 117
    assert "s0003/ct.nii.gz" not in table["path"] and table["slice"][:3] == [0, 5, 10]
    stats = tmp_path / "stats.csv"
    assert main(["dataset", "stats", str(mock_copy), "--out", str(stats), "-q", "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("| label | name | cases | coverage_percent | volume_cm3 |")
    assert "skipped 1 subjects:" in captured.err
    rows = read_table(stats)
    assert rows["name"] == list(class_map("total").values())
    assert all(0 <= float(c) <= 100 for c in rows["coverage_percent"])
    assert (mock_copy / ".totalseg-cache" / "scan" / "s0000.npz").is_file()  # stats reused the manifest's scan


def test_cache_command_with_groups(mock_root, tmp_path, capsys):
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({"lungs": ["lung_upper_lobe_left", "lung_lower_lobe_left"], "liver": ["liver"]}))
    cache = tmp_path / "arrays"
    assert main(["dataset", "cache", str(mock_root), "--cache", str(cache), "--groups", str(groups), "-q",
                 "--workers", "2"]) == 0
    assert "cached images and label maps (2 labels) of 10 subjects" in capsys.readouterr().out
    liver = np.asanyarray(nib.load(mock_root / "s0005" / "segmentations" / "liver.nii.gz").dataobj)
    labels = np.load(cache / "labels" / "s0005.npy")
    np.testing.assert_array_equal(labels == 2, liver > 0)
    groups.write_text('{"lungs": "lung_upper_lobe_left"}')
    assert main(["dataset", "cache", str(mock_root), "--cache", str(cache), "--groups", str(groups)]) == 2
    assert "groups.json: expected" in capsys.readouterr().err


def test_mri_manifest(mri_root, tmp_path):
    out = tmp_path / "mri.csv"
    assert main(["dataset", "manifest", str(mri_root), "--every", "3", "--out", str(out), "--no-cache", "-q",
                 "--workers", "1"]) == 0
    table = read_table(out)
    assert list(table)[3:] == list(class_map("mri_dataset_v100").values()) and len(table) == 3 + 56
    assert table["path"][0] == "s0000/mri.nii.gz" and table["slice"][:3] == ["0", "3", "6"]
    assert set(table["split"]) == {"train", "val", "test"}


def test_mri_to_nnunet(mri_root, tmp_path, capsys):
    index = open_dataset(mri_root)
    assert index.modality == "mr" and index.class_map_name == "mri_dataset_v100" and len(index.classes) == 56
    out = tmp_path / "Dataset850_TotalSegMRI"
    assert main(["dataset", "to-nnunet", str(mri_root), str(out), "--split", "ratio", "-q", "--workers", "1"]) == 0
    assert "wrote" in capsys.readouterr().out
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "MR"} and len(meta["labels"]) == 57 and meta["numTraining"] == 4
    assert sorted(p.name for p in (out / "imagesTs").iterdir()) == ["s0004_0000.nii.gz"]
    assert (out / "imagesTs" / "s0004_0000.nii.gz").read_bytes() == (mri_root / "s0004" / "mri.nii.gz").read_bytes()
    splits = [{"train": ["s0000", "s0001", "s0002"], "val": ["s0003"]}]
    assert json.loads((out / "splits_final.json").read_text()) == splits


@pytest.mark.parametrize("action", ["index", "check", "manifest", "stats", "to-nnunet"])
def test_a_folder_that_is_not_a_dataset_is_one_line(action, tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    extra = {"manifest": ["--out", str(tmp_path / "m.csv")], "to-nnunet": [str(tmp_path / "out")]}.get(action, [])
    assert main(["dataset", action, str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a TotalSegmentator dataset" in err and len(err.splitlines()) == 1 and str(tmp_path) in err
