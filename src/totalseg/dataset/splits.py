"""Train/val/test splits of a dataset: the official one from ``meta.csv``, the 60/20/20 filename-order
split of the slice-classification benchmark, and seeded k-fold cross-validation as nnU-Net makes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from totalseg.dataset.layout import DatasetIndex
from totalseg.errors import InputError

SPLIT_NAMES = ("train", "val", "test")
SPLIT_METHODS = ("official", "ratio")
NNUNET_SEED = 12345
"""nnU-Net's seed for its default 5-fold split (``generate_crossval_split``)."""


def official_split(index: DatasetIndex) -> dict[str, str]:
    """``{subject: "train" | "val" | "test"}`` from the ``split`` column of ``meta.csv``.

    Raises:
        InputError: no ``meta.csv`` or no ``split`` column, or a subject without a valid split.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from totalseg.dataset.layout import open_dataset
        >>> from totalseg.dataset.synthetic import write_mock_dataset
        >>> index = open_dataset(write_mock_dataset(Path(tempfile.mkdtemp()), n_subjects=2, shape=(4, 4, 4)))
        >>> official_split(index)
        {'s0000': 'train', 's0001': 'train'}
    """
    if "split" not in index.meta_columns:
        raise InputError(f"{index.root}: meta.csv has no 'split' column (or no meta.csv); use the ratio split")
    splits, bad = {}, []
    for subject in index.subjects:
        value = subject.meta.get("split", "").lower()
        if value not in SPLIT_NAMES:
            bad.append(subject.id)
        splits[subject.id] = value
    if bad:
        raise InputError(f"{index.root}/meta.csv: no train/val/test split for {len(bad)} subjects "
                         f"({', '.join(bad[:5])}); fix meta.csv or use the ratio split")
    return splits


def ratio_split(subjects: Sequence[str], *, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> dict[str, str]:
    """Order subjects by name; the first ``round(0.6 n)`` are train, the next ``round(0.2 n)`` val, the rest test.

    Examples:
        >>> from collections import Counter
        >>> Counter(ratio_split([f"s{i:04d}" for i in range(1228)]).values())
        Counter({'train': 737, 'val': 246, 'test': 245})
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise InputError(f"split fractions must be three non-negative numbers adding up to 1, got {fractions}")
    ordered = sorted(subjects)
    n_train = round(fractions[0] * len(ordered))
    n_val = round(fractions[1] * len(ordered))
    return {sid: "train" if i < n_train else "val" if i < n_train + n_val else "test" for i, sid in enumerate(ordered)}


def kfold_split(subjects: Sequence[str], *, folds: int = 5, seed: int = NNUNET_SEED) -> list[dict[str, list[str]]]:
    """Seeded k-fold cross-validation in nnU-Net's ``splits_final.json`` format.

    The same folds as nnU-Net's default split (scikit-learn's ``KFold(shuffle=True, random_state=seed)``
    over the sorted ids): a shuffled order is cut into ``folds`` chunks, the first ``n % folds`` one
    longer; each fold's lists are in sorted order.

    Examples:
        >>> [len(f["val"]) for f in kfold_split([f"s{i}" for i in range(11)], folds=5)]
        [3, 2, 2, 2, 2]
    """
    ordered = sorted(subjects)
    if not 2 <= folds <= len(ordered):
        raise InputError(f"k-fold needs 2 <= folds <= subjects ({len(ordered)}), got {folds}")
    order = np.arange(len(ordered))
    np.random.RandomState(seed).shuffle(order)
    sizes = np.full(folds, len(ordered) // folds)
    sizes[: len(ordered) % folds] += 1
    result, start = [], 0
    for size in sizes:
        in_val = np.zeros(len(ordered), bool)
        in_val[order[start : start + size]] = True
        start += size
        result.append({"train": [ordered[i] for i in np.flatnonzero(~in_val)],
                       "val": [ordered[i] for i in np.flatnonzero(in_val)]})
    return result


def assign_split(index: DatasetIndex, method: str) -> dict[str, str]:
    """``{subject: split}`` by ``method``: ``official`` (meta.csv) or ``ratio`` (60/20/20 by filename)."""
    if method == "official":
        return official_split(index)
    if method == "ratio":
        return ratio_split([s.id for s in index.subjects])
    raise InputError(f"unknown split method {method!r}; use one of {', '.join(SPLIT_METHODS)}")


def split_lists(assignment: dict[str, str]) -> dict[str, list[str]]:
    """``{"train": [...], "val": [...], "test": [...]}`` (sorted ids) from ``{subject: split}``."""
    return {name: sorted(s for s, v in assignment.items() if v == name) for name in SPLIT_NAMES}
