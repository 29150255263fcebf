"""PyTorch datasets over the :class:`~totalseg.dataset.cache.ArrayCache`: 3-D volumes, 2-D slice
classification (slice + multi-hot target from the manifest) and 2-D slice segmentation.

Images are returned as float32 in their stored units (CT in HU; no rescaling), labels as int64.
Slices are taken along the third voxel axis, as stored; slices of different subjects may differ in
size, so batch them with a transform that crops or pads, or with ``batch_size=1``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from totalseg.dataset.cache import ArrayCache
from totalseg.dataset.manifest import FIXED_COLUMNS
from totalseg.dataset.tables import read_table
from totalseg.errors import InputError


class VolumeDataset(Dataset):
    """3-D samples: ``{"image": (1, X, Y, Z) float32, "label": (X, Y, Z) int64, "subject": id}``.

    Examples:
        >>> ds = VolumeDataset(ArrayCache(index, "cache"), subjects=["s0000"])  # doctest: +SKIP
        >>> ds[0]["image"].shape  # doctest: +SKIP
        torch.Size([1, 249, 188, 213])
    """

    def __init__(self, cache: ArrayCache, *, subjects: Sequence[str] | None = None,
                 transform: Callable[[dict], dict] | None = None) -> None:
        self.cache = cache
        self.subjects = [s.id for s in cache.index.subjects] if subjects is None else list(subjects)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.subjects)

    def __getitem__(self, i: int) -> dict:
        sid = self.subjects[i]
        sample = {
            "image": torch.from_numpy(np.asarray(self.cache.image(sid), dtype=np.float32)[None]),
            "label": torch.from_numpy(np.asarray(self.cache.labels(sid), dtype=np.int64)),
            "subject": sid,
        }
        return self.transform(sample) if self.transform else sample


class SliceClassificationDataset(Dataset):
    """2-D samples of a manifest: ``(slice (1, X, Y) float32, target (classes,) float32)``.

    Args:
        manifest: a manifest file (``.csv``/``.parquet``) written by ``totalseg dataset manifest``.
        cache: the array cache of the same dataset (only images are used).
        split: keep the rows of this split only (``train``, ``val``, ``test``).
        transform: called on ``(image, target)``.

    Examples:
        >>> cache = ArrayCache(index, "cache")  # doctest: +SKIP
        >>> image, target = SliceClassificationDataset("manifest.parquet", cache, split="train")[0]  # doctest: +SKIP
    """

    def __init__(self, manifest: str | os.PathLike, cache: ArrayCache, *, split: str | None = None,
                 transform: Callable | None = None) -> None:
        table = read_table(Path(manifest))
        if list(table)[: len(FIXED_COLUMNS)] != list(FIXED_COLUMNS):
            raise InputError(f"{manifest}: not a manifest (columns {list(table)[:3]}); build one with "
                             "'totalseg dataset manifest'")
        keep = [i for i, s in enumerate(table["split"]) if split is None or s == split]
        self.classes = list(table)[len(FIXED_COLUMNS):]
        self.subjects = [str(table["path"][i]).split("/", 1)[0] for i in keep]
        self.slices = [int(table["slice"][i]) for i in keep]
        columns = [np.asarray(table[c]).astype(np.float32) for c in self.classes]  # CSV cells are strings
        targets = np.stack(columns, axis=1)[keep] if columns else np.zeros((len(keep), 0), np.float32)
        self.targets = torch.from_numpy(np.ascontiguousarray(targets))
        self.cache = cache
        self.transform = transform

    def __len__(self) -> int:
        return len(self.slices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.cache.image(self.subjects[i])[:, :, self.slices[i]]
        sample = torch.from_numpy(np.array(image, dtype=np.float32)[None]), self.targets[i]
        return self.transform(*sample) if self.transform else sample


class SliceSegmentationDataset(Dataset):
    """2-D samples ``(slice (1, X, Y) float32, label map (X, Y) int64)`` of slices ``offset, offset + every, ...``.

    The label map follows the cache's label spec (its classes or class grouping). Building the
    index of slices opens each cached image once (the cache is built first where missing).

    Examples:
        >>> cache = ArrayCache(index, "cache", groups={"kidneys": ["kidney_left", "kidney_right"]})  # doctest: +SKIP
        >>> image, label = SliceSegmentationDataset(cache, every=2)[0]  # doctest: +SKIP
    """

    def __init__(self, cache: ArrayCache, *, subjects: Sequence[str] | None = None, every: int = 1, offset: int = 0,
                 transform: Callable | None = None) -> None:
        if every < 1 or offset < 0:
            raise InputError(f"every must be >= 1 and offset >= 0, got every={every}, offset={offset}")
        self.cache = cache
        ids = [s.id for s in cache.index.subjects] if subjects is None else list(subjects)
        self.items = [(sid, k) for sid in ids for k in range(offset, cache.image(sid).shape[2], every)]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        sid, k = self.items[i]
        image = np.array(self.cache.image(sid)[:, :, k], dtype=np.float32)[None]
        label = np.array(self.cache.labels(sid)[:, :, k], dtype=np.int64)
        sample = torch.from_numpy(image), torch.from_numpy(label)
        return self.transform(*sample) if self.transform else sample
