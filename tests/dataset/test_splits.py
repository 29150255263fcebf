"""Splits: the official one, 60/20/20 by filename with round(), and nnU-Net's k-fold."""

from __future__ import annotations

import doctest
from collections import Counter

import pytest

import totalseg.dataset.splits as splits_module
from totalseg.dataset.layout import open_dataset
from totalseg.dataset.splits import assign_split, kfold_split, official_split, ratio_split, split_lists
from totalseg.errors import InputError

# scikit-learn's KFold(n_splits=3, shuffle=True, random_state=12345) on s0000..s0010, as nnU-Net uses it
VAL_FOLDS = [[0, 3, 6, 7], [4, 8, 9, 10], [1, 2, 5]]
SKLEARN_FOLDS = [
    {"train": [f"s{i:04d}" for i in range(11) if i not in val], "val": [f"s{i:04d}" for i in val]} for val in VAL_FOLDS
]


def test_ratio_split_counts_and_order():
    ids = [f"s{i:04d}" for i in range(1228)]
    split = ratio_split(list(reversed(ids)))  # input order does not matter: filename order does
    assert Counter(split.values()) == {"train": 737, "val": 246, "test": 245}
    assert split["s0736"] == "train" and split["s0737"] == "val" and split["s0983"] == "test"
    assert Counter(ratio_split(ids[:10]).values()) == {"train": 6, "val": 2, "test": 2}


def test_kfold_matches_scikit_learn():
    assert kfold_split([f"s{i:04d}" for i in reversed(range(11))], folds=3) == SKLEARN_FOLDS
    folds = kfold_split([f"s{i}" for i in range(20)], folds=5, seed=3)
    assert sorted(s for f in folds for s in f["val"]) == sorted(f"s{i}" for i in range(20))
    assert folds != kfold_split([f"s{i}" for i in range(20)], folds=5, seed=4)
    with pytest.raises(InputError, match="2 <= folds"):
        kfold_split(["a", "b"], folds=3)


def test_official_split_from_meta(mock_root):
    index = open_dataset(mock_root)
    lists = split_lists(official_split(index))
    assert lists == {"train": [f"s{i:04d}" for i in range(7)], "val": ["s0007"], "test": ["s0008", "s0009"]}
    assert assign_split(index, "ratio")["s0009"] == "test"
    with pytest.raises(InputError, match="unknown split method"):
        assign_split(index, "random")


def test_official_split_needs_the_column(mock_copy):
    (mock_copy / "meta.csv").write_text("image_id;age\ns0000;40\n", encoding="utf-8-sig")
    with pytest.raises(InputError, match="no 'split' column"):
        official_split(open_dataset(mock_copy))


def test_docstring_examples():
    assert doctest.testmod(splits_module).failed == 0
