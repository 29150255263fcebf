"""The nnU-Net raw dataset reader: cases, labels, modality, splits and the errors users see."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from totalseg.dataset.splits import kfold_split
from totalseg.errors import InputError
from totalseg.training.phantom import ORGANS, write_phantom_dataset
from totalseg.training.raw import RawDataset


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    return write_phantom_dataset(tmp_path_factory.mktemp("raw") / "Dataset900_Phantom", n_train=7,
                                 shape=(12, 12, 12))


def test_reads_cases_labels_and_modality(raw):
    ds = RawDataset.from_folder(raw)
    assert [c.case_id for c in ds.cases] == [f"phantom_{i:03d}" for i in range(7)]
    assert all(c.image.is_file() and c.label.is_file() for c in ds.cases)
    assert ds.labels == {0: "background", **{i: n for i, n in enumerate(ORGANS, 1)}}
    assert ds.modality == "ct"


def test_default_split_is_nnunets_five_fold(raw):
    ds = RawDataset.from_folder(raw)
    ids = [c.case_id for c in ds.cases]
    folds = kfold_split(ids, folds=5)
    for k in range(5):
        train, val = ds.split(k)
        assert (train, val) == (folds[k]["train"], folds[k]["val"])
        assert sorted(train + val) == ids and not set(train) & set(val)
    with pytest.raises(InputError, match="fold 5 does not exist"):
        ds.split(5)


def test_splits_final_json_wins_and_is_checked(tmp_path):
    root = write_phantom_dataset(tmp_path / "D", n_train=3, shape=(8, 8, 8))
    (root / "splits_final.json").write_text(json.dumps([{"train": ["phantom_000", "phantom_002"],
                                                         "val": ["phantom_001"]}]))
    assert RawDataset.from_folder(root).split(0) == (["phantom_000", "phantom_002"], ["phantom_001"])
    with pytest.raises(InputError, match="no fold 1"):
        RawDataset.from_folder(root).split(1)
    (root / "splits_final.json").write_text(json.dumps([{"train": ["nobody"], "val": ["phantom_001"]}]))
    with pytest.raises(InputError, match="nobody are not in imagesTr"):
        RawDataset.from_folder(root).split(0)


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(InputError, match="dataset.json is missing"):
        RawDataset.from_folder(tmp_path)
    root = write_phantom_dataset(tmp_path / "D", n_train=2, shape=(8, 8, 8))
    (root / "labelsTr" / "phantom_001.nii.gz").unlink()
    with pytest.raises(InputError, match="phantom_001.nii.gz is missing"):
        RawDataset.from_folder(root)
    meta = json.loads((root / "dataset.json").read_text())
    (root / "dataset.json").write_text(json.dumps({**meta, "channel_names": {"0": "CT", "1": "PET"}}))
    with pytest.raises(InputError, match="2 input channels"):
        RawDataset.from_folder(root)
    (root / "dataset.json").write_text(json.dumps({**meta, "labels": {"liver": 1}}))
    with pytest.raises(InputError, match="background 0"):
        RawDataset.from_folder(root)
    (root / "dataset.json").write_text("{not json")
    with pytest.raises(InputError, match="not an nnU-Net dataset.json"):
        RawDataset.from_folder(root)


def test_phantom_organ_subset_and_unknown_organ(tmp_path):
    root = write_phantom_dataset(tmp_path / "D", n_train=2, shape=(16, 16, 16), organs=("lung", "bone"))
    ds = RawDataset.from_folder(root)
    assert ds.labels == {0: "background", 1: "lung", 2: "bone"}
    labels = np.asanyarray(nib.load(ds.cases[0].label).dataobj)
    image = np.asanyarray(nib.load(ds.cases[0].image).dataobj)
    assert set(np.unique(labels)) <= {0, 1, 2} and labels.dtype == np.uint8
    assert image[labels == 1].mean() < -600 and image[labels == 2].mean() > 500  # lung and bone HU
    with pytest.raises(InputError, match="unknown phantom organs \\['heart'\\]"):
        write_phantom_dataset(tmp_path / "E", organs=("heart",))
