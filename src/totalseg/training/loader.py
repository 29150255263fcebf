"""Training batches: patches drawn from the cached cases with foreground oversampling, augmented.

Of each batch, the last third of the samples (at least one when oversampling is on) is centred on
a voxel of a randomly chosen class present in the case; the others anywhere in the case. Batch
``i`` of epoch ``e`` uses its own random generator seeded from ``(seed, e, i)``, so batches do not
depend on how many threads made them or where a resumed run starts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from totalseg.training.augment import Augmentation
from totalseg.training.preprocessing import CachedCase


@dataclass(frozen=True)
class Batch:
    image: torch.Tensor  # (B, C, *patch) float32
    seg: torch.Tensor  # (B, 1, *patch) uint8
    params: list[dict]  # the sampled augmentation of each sample (replayable)


@dataclass(frozen=True)
class PatchLoader:
    """Makes batch ``i`` of an epoch from ``cases`` with ``augmentation``."""

    cases: Sequence[CachedCase]
    augmentation: Augmentation
    batch_size: int
    oversample_foreground: float = 0.33
    seed: int = 0

    def batch(self, epoch: int, index: int) -> Batch:
        rng = np.random.default_rng([self.seed, epoch, index])
        images, segs, params = [], [], []
        forced_from = self.batch_size - max(round(self.batch_size * self.oversample_foreground),
                                            1 if self.oversample_foreground > 0 else 0)
        for j in range(self.batch_size):
            case = self.cases[int(rng.integers(len(self.cases)))]
            data, seg = case.data(), case.seg()
            center = _center(rng, data.shape[1:], case.locations() if j >= forced_from else None)
            p = self.augmentation.sample(rng, center)
            image, labels = self.augmentation.apply(data, seg, p)
            images.append(image)
            segs.append(labels)
            params.append({"case": case.case_id, **p})
        return Batch(torch.stack(images), torch.stack(segs), params)

    def epoch(self, epoch: int, n_batches: int, *, threads: int = 1) -> Iterator[Batch]:
        """The batches of one epoch, made ahead by ``threads`` background threads."""
        if threads <= 0:
            yield from (self.batch(epoch, i) for i in range(n_batches))
            return
        ahead = 2 * threads
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = {i: pool.submit(self.batch, epoch, i) for i in range(min(ahead, n_batches))}
            for i in range(n_batches):
                if i + ahead < n_batches:
                    futures[i + ahead] = pool.submit(self.batch, epoch, i + ahead)
                yield futures.pop(i).result()

def _center(rng: np.random.Generator, shape: tuple[int, ...], locations: dict[int, np.ndarray] | None) -> np.ndarray:
    if locations:
        cls = sorted(locations)[int(rng.integers(len(locations)))]
        voxels = locations[cls]
        return voxels[int(rng.integers(len(voxels)))].astype(float)
    return np.array([rng.integers(n) for n in shape], dtype=float)
