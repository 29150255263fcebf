"""Preprocessing for training, cached to disk: the inference pipeline's own steps on every case.

Each case is seen the way its plans' reader hands it to nnU-Net (``engine.reader_view``: ``totalseg
train`` writes a reorienting reader, so that is the closest canonical orientation), then goes through
``engine.preprocess`` (transpose, crop to non-zero, normalization, nnU-Net's resampling to the plans
spacing). Labels follow through the same view, transpose and crop onto the same grid
(``engine.resampling.resample_labels``), so a model sees in training exactly what ``totalseg segment
--model-dir`` and nnU-Net's own predictor feed it.

Each case becomes ``<case>.npy`` (float32, (1, Z, Y, X)), ``<case>_seg.npy`` (uint8) and
``<case>_locations.npz`` (up to 10,000 sampled voxel positions per class, for foreground
oversampling). ``cache.json`` records what the cache was made from; a cache made from other plans
or other files is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from totalseg.engine.preprocess import preprocess
from totalseg.engine.reader_view import reader_view
from totalseg.engine.resampling import resample_labels
from totalseg.errors import InputError
from totalseg.io.atomic import atomic_path, atomic_write_text
from totalseg.models.plans import ModelConfig
from totalseg.training.fingerprint import read_case
from totalseg.training.raw import RawCase, RawDataset

LOCATIONS_PER_CLASS = 10_000


@dataclass(frozen=True)
class CachedCase:
    """A preprocessed case on disk; arrays are memory-mapped when loaded."""

    case_id: str
    folder: Path

    def data(self) -> np.ndarray:
        """(1, Z, Y, X) float32, normalized."""
        return np.load(self.folder / f"{self.case_id}.npy", mmap_mode="r")

    def seg(self) -> np.ndarray:
        """(1, Z, Y, X) uint8 labels."""
        return np.load(self.folder / f"{self.case_id}_seg.npy", mmap_mode="r")

    def locations(self) -> dict[int, np.ndarray]:
        """Class id -> (N, 3) sampled voxel positions (Z, Y, X) of that class."""
        with np.load(self.folder / f"{self.case_id}_locations.npz") as npz:
            return {int(k.split("_")[1]): npz[k] for k in npz.files}


def preprocess_arrays(case: RawCase, config: ModelConfig, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(data (1, Z, Y, X) float32, seg (1, Z, Y, X) uint8) of one raw case for ``config``."""
    image, labels = read_case(case, canonical=False)
    view = reader_view(image.array, image.affine, image.header_zooms_mm, config.image_reader)
    pre = preprocess(view.data, view.spacing, config)
    seg = reader_view(np.asarray(labels.array), labels.affine, image.header_zooms_mm, config.image_reader).data
    if seg.max(initial=0) > 255 or seg.min(initial=0) < 0:
        raise InputError(f"{case.label}: label ids must be 0..255, got {seg.min()}..{seg.max()}")
    seg_net = seg.astype(np.uint8).transpose(config.transpose_forward)[pre.bbox]
    seg_net = resample_labels(seg_net, pre.data.shape[1:], pre.spacing, config.spacing, config.label_resampling)
    return pre.data.numpy(), np.ascontiguousarray(seg_net)[None]


def preprocess_dataset(
    dataset: RawDataset,
    config: ModelConfig,
    plans: dict,
    cache_dir: Path,
    *,
    on_case: Callable[[str], None] | None = None,
) -> dict[str, CachedCase]:
    """Preprocess every case into ``cache_dir`` (reusing a matching cache); returns the cached cases."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = _cache_key(dataset, plans)
    key_file = cache_dir / "cache.json"
    done = set()
    if key_file.is_file():
        stored = json.loads(key_file.read_text())
        if stored.get("key") == key:
            done = set(stored.get("cases", []))
    cases = {}
    for case in dataset.cases:
        cached = CachedCase(case.case_id, cache_dir)
        if case.case_id not in done or not _complete(cached):
            data, seg = preprocess_arrays(case, config)
            rng = np.random.default_rng(zlib.crc32(case.case_id.encode()))
            _save_case(cached, data, seg, _class_locations(seg[0], rng))
            done.add(case.case_id)
            atomic_write_text(key_file, json.dumps({"key": key, "cases": sorted(done)}))
        cases[case.case_id] = cached
        if on_case is not None:
            on_case(case.case_id)
    return cases


def _class_locations(seg: np.ndarray, rng: np.random.Generator) -> dict[int, np.ndarray]:
    locations = {}
    for c in np.unique(seg):
        if c == 0:
            continue
        where = np.argwhere(seg == c)
        if len(where) > LOCATIONS_PER_CLASS:
            where = where[rng.choice(len(where), LOCATIONS_PER_CLASS, replace=False)]
        locations[int(c)] = where.astype(np.int32)
    return locations


def _save_case(cached: CachedCase, data: np.ndarray, seg: np.ndarray, locations: dict[int, np.ndarray]) -> None:
    for suffix, array in (("", data), ("_seg", seg)):
        with atomic_path(cached.folder / f"{cached.case_id}{suffix}.npy") as tmp:
            np.save(tmp, array)
    with atomic_path(cached.folder / f"{cached.case_id}_locations.npz") as tmp:
        np.savez(tmp, **{f"class_{c}": v for c, v in locations.items()})


def _complete(cached: CachedCase) -> bool:
    return all((cached.folder / f"{cached.case_id}{s}").is_file() for s in (".npy", "_seg.npy", "_locations.npz"))


def _cache_key(dataset: RawDataset, plans: dict) -> str:
    conf = plans["configurations"]
    relevant = {
        "spacing": {k: v["spacing"] for k, v in conf.items()},
        "normalization": {k: v["normalization_schemes"] for k, v in conf.items()},
        "reader": [plans.get("image_reader_writer"), plans.get("transpose_forward")],
        "intensity": plans.get("foreground_intensity_properties_per_channel"),
        "files": [(c.case_id, c.image.stat().st_size, c.image.stat().st_mtime_ns, c.label.stat().st_size,
                   c.label.stat().st_mtime_ns) for c in dataset.cases],
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()
