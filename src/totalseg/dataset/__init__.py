"""The public TotalSegmentator datasets (CT v1, v2, v2 small, MRI) from Zenodo to training: download
and extraction (:mod:`.download`, :mod:`.catalog`), the index of subjects, images, masks and
``meta.csv`` (:mod:`.layout`), fast one-pass mask reading (:mod:`.masks`), per-subject scans
cached on disk that feed the slice manifest and the label statistics (:mod:`.scan`,
:mod:`.manifest`, :mod:`.stats`), dataset checks (:mod:`.check`), splits (:mod:`.splits`),
uncompressed memory-mapped array caches and PyTorch datasets (:mod:`.cache`, :mod:`.torch_data`),
conversion to nnU-Net's raw format (:mod:`.nnunet`) and a mock dataset in the exact Zenodo layout
(:mod:`.synthetic`). The ``totalseg dataset`` command wraps these functions.
"""

from __future__ import annotations

from typing import Any

from totalseg.dataset.layout import DatasetIndex, Subject, open_dataset

__all__ = [
    "DatasetIndex",
    "Subject",
    "open_dataset",
    "ArrayCache",
    "VolumeDataset",
    "SliceClassificationDataset",
    "SliceSegmentationDataset",
]

_TORCH_EXPORTS = ("VolumeDataset", "SliceClassificationDataset", "SliceSegmentationDataset")


def __getattr__(name: str) -> Any:
    # torch is imported only when a PyTorch dataset is asked for: scan workers stay light.
    if name in _TORCH_EXPORTS:
        from totalseg.dataset import torch_data

        return getattr(torch_data, name)
    if name == "ArrayCache":
        from totalseg.dataset.cache import ArrayCache

        return ArrayCache
    raise AttributeError(f"module 'totalseg.dataset' has no attribute {name!r}")
