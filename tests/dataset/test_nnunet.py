"""to-nnunet: layout, merged labels against a nibabel reference, dataset.json, splits, NRRD, resume."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from totalseg.anatomy import part_map
from totalseg.dataset.layout import open_dataset
from totalseg.dataset.nnunet import to_nnunet
from totalseg.errors import OutputError
from totalseg.io.readers import read_volume


def reference_labels(root, subject, labels, reference_masks):
    masks = reference_masks(root, subject, labels.values())
    combined = np.zeros(nib.load(root / subject / "ct.nii.gz").shape, np.uint8)
    for idx, name in enumerate(labels.values()):  # TotalSegmentator's script: combined[mask > 0] = idx + 1
        if masks[name] is not None:
            combined[masks[name] > 0] = idx + 1
    return combined


def test_nifti_conversion_with_a_part_map(mock_copy, tmp_path, reference_masks):
    (mock_copy / "s0001" / "segmentations" / "liver.nii.gz").unlink()
    out = tmp_path / "Dataset291_TotalSegmentator_part1_organs"
    report = to_nnunet(open_dataset(mock_copy), out, classes="class_map_part_organs", workers=2, progress=False)
    organs = part_map("class_map_part_organs")
    assert report.written == {"Tr": [f"s{i:04d}" for i in range(8)], "Ts": ["s0008", "s0009"]}
    assert report.missing_masks == ["s0001/liver"] and report.skipped == []
    assert sorted(p.name for p in (out / "imagesTs").iterdir()) == ["s0008_0000.nii.gz", "s0009_0000.nii.gz"]
    for sid, part in (("s0001", "Tr"), ("s0008", "Ts")):
        copied = (out / f"images{part}" / f"{sid}_0000.nii.gz").read_bytes()
        assert copied == (mock_copy / sid / "ct.nii.gz").read_bytes()
        label = nib.load(out / f"labels{part}" / f"{sid}.nii.gz")
        np.testing.assert_array_equal(np.asanyarray(label.dataobj), reference_labels(mock_copy, sid, organs,
                                                                                      reference_masks))
        np.testing.assert_allclose(label.affine, nib.load(mock_copy / sid / "ct.nii.gz").affine)
        assert label.get_data_dtype() == np.uint8
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "CT"} and meta["numTraining"] == 8 and meta["file_ending"] == ".nii.gz"
    assert list(meta["labels"].items()) == [("background", 0), *((n, i) for i, n in organs.items())]
    splits = json.loads((out / "splits_final.json").read_text())
    assert splits == [{"train": [f"s{i:04d}" for i in range(7)], "val": ["s0007"]}]


def test_resume_keeps_intact_outputs_and_redoes_damaged_ones(mock_root, tmp_path, reference_masks):
    index = open_dataset(mock_root)
    labels = part_map("class_map_part_ribs")
    out = tmp_path / "Dataset300_x"
    to_nnunet(index, out, classes="class_map_part_ribs", workers=1, progress=False)
    tr = out / "labelsTr"
    intact = {p.name: p.stat().st_mtime_ns for p in tr.iterdir() if p.name not in ("s0000.nii.gz", "s0001.nii.gz")}
    (tr / "s0000.nii.gz").unlink()  # missing
    (tr / "s0001.nii.gz").write_bytes(b"")  # zero bytes, e.g. left by a failed copy
    image = out / "imagesTr" / "s0002_0000.nii.gz"
    image.write_bytes(image.read_bytes()[:-100])  # truncated
    label3 = tr / "s0003.nii.gz"
    label3.write_bytes(label3.read_bytes()[:200])
    intact.pop("s0003.nii.gz")
    report = to_nnunet(index, out, classes="class_map_part_ribs", workers=1, progress=False)
    assert report.skipped == [] and len(report.written["Tr"]) == 8
    for sid in ("s0000", "s0001", "s0003"):
        np.testing.assert_array_equal(np.asanyarray(nib.load(tr / f"{sid}.nii.gz").dataobj),
                                      reference_labels(mock_root, sid, labels, reference_masks))
    assert image.read_bytes() == (mock_root / "s0002" / "ct.nii.gz").read_bytes()
    assert {p.name: p.stat().st_mtime_ns for p in tr.iterdir() if p.name in intact} == intact  # not rewritten


def test_settings_guard(mock_root, tmp_path):
    index = open_dataset(mock_root)
    out = tmp_path / "Dataset302_x"
    to_nnunet(index, out, classes="class_map_part_ribs", workers=1, progress=False)
    with pytest.raises(OutputError, match="written with other classes or format"):
        to_nnunet(index, out, classes="class_map_part_organs", progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(OutputError, match="not empty"):
        to_nnunet(index, tmp_path / "other", progress=False)


def test_nrrd_output_keeps_values_and_geometry(mock_root, tmp_path, reference_masks):
    index = open_dataset(mock_root)
    out = tmp_path / "Dataset301_nrrd"
    to_nnunet(index, out, fmt="nrrd", split="ratio", workers=2, progress=False)
    assert json.loads((out / "dataset.json").read_text())["file_ending"] == ".nrrd"
    image = read_volume(out / "imagesTr" / "s0002_0000.nrrd")
    source = nib.load(mock_root / "s0002" / "ct.nii.gz")
    np.testing.assert_array_equal(image.array, np.asanyarray(source.dataobj))
    np.testing.assert_allclose(image.affine, source.affine, atol=1e-4)
    label = read_volume(out / "labelsTs" / "s0009.nrrd")
    np.testing.assert_array_equal(label.array, reference_labels(mock_root, "s0009", index.classes, reference_masks))
