"""Indexing the Zenodo layout: meta.csv with BOM and ';', class lists, subjects, bad folders."""

from __future__ import annotations

import doctest
import importlib

import pytest

import totalseg.dataset.layout as layout_module
from totalseg.anatomy import class_map
from totalseg.dataset.layout import open_dataset, read_meta
from totalseg.dataset.synthetic import write_mock_dataset
from totalseg.errors import InputError


def test_index_of_the_mock(mock_root):
    index = open_dataset(mock_root)
    assert index.modality == "ct" and index.class_map_name == "total"
    assert list(index.classes.items()) == list(class_map("total").items())
    assert [s.id for s in index.subjects] == [f"s{i:04d}" for i in range(10)]
    assert index.relative_image_path("s0011") == "s0011/ct.nii.gz"
    assert index.meta_columns[0] == "image_id"  # the byte-order mark is not part of the name
    first = index.subjects[0]
    assert first.meta["scanner_model"] == "Somatom Définition"
    assert len(first.masks) == 117 and first.has_image
    assert [s.meta["split"] for s in index.subjects] == ["train"] * 7 + ["val", "test", "test"]
    assert index.warnings == ()


def test_meta_csv_is_utf8_with_bom_and_semicolons(mock_root):
    raw = (mock_root / "meta.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfimage_id;age;gender;institute;study_type;split;manufacturer;")
    columns, rows = read_meta(mock_root / "meta.csv")
    assert len(columns) == 11 and rows["s0003"]["split"] == "train"


def test_comma_separated_meta_without_bom(tmp_path):
    (tmp_path / "meta.csv").write_text("image_id,split\ns0001,test\n")
    columns, rows = read_meta(tmp_path / "meta.csv")
    assert columns == ("image_id", "split") and rows == {"s0001": {"image_id": "s0001", "split": "test"}}


@pytest.mark.parametrize(("modality", "classes", "expected", "n"), [
    ("ct", "total_v1", "total_v1", 104), ("mr", None, "mri_dataset_v100", 56)])
def test_class_list_is_detected_from_the_mask_names(tmp_path, modality, classes, expected, n):
    root = write_mock_dataset(tmp_path, n_subjects=1, shape=(6, 6, 4), modality=modality, classes=classes)
    index = open_dataset(root)
    assert index.class_map_name == expected and len(index.classes) == n
    assert index.image_name == ("mri.nii.gz" if modality == "mr" else "ct.nii.gz")


def test_missing_pieces_are_warned_about(mock_copy):
    (mock_copy / "s0001" / "segmentations" / "liver.nii.gz").unlink()
    (mock_copy / "s0002" / "segmentations" / "not_a_class.nii.gz").write_bytes(b"")
    (mock_copy / "s0003" / "ct.nii.gz").rename(mock_copy / "s0003" / "moved.nii.gz")
    index = open_dataset(mock_copy)
    assert "liver" not in index.subject("s0001").masks
    assert not index.subject("s0003").has_image  # still listed: meta.csv names it
    assert any("s0002/segmentations/not_a_class.nii.gz" in w for w in index.warnings)


def test_a_folder_that_is_not_a_dataset(tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(InputError, match="not a TotalSegmentator dataset"):
        open_dataset(tmp_path)
    with pytest.raises(InputError, match="unknown class map 'organs'"):
        open_dataset(write_mock_dataset(tmp_path / "d", n_subjects=1, shape=(4, 4, 4)), classes="organs")


def test_meta_without_image_id_is_refused(tmp_path):
    (tmp_path / "meta.csv").write_text("id;split\n")
    with pytest.raises(InputError, match="no 'image_id' column"):
        read_meta(tmp_path / "meta.csv")


def test_docstring_examples():
    assert doctest.testmod(layout_module).failed == 0


@pytest.mark.parametrize("module", ["scan", "tables", "catalog", "parallel", "synthetic"])
def test_docstring_examples_of_the_other_modules(module):
    result = doctest.testmod(importlib.import_module(f"totalseg.dataset.{module}"))
    assert result.failed == 0 and result.attempted > 0
