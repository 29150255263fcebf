"""Uncompressed copies of a dataset's images and label maps as ``.npy`` files, memory-mapped on read.

Reading one slice from a ``.nii.gz`` means decompressing the volume (and, for a label map, every
mask); from the cache it is one contiguous read, since arrays keep NIfTI's Fortran order and a
slice along the third axis is one block. Layout::

    <cache>/images/<subject>.npy        the image, its dtype as stored (CT: int16)
    <cache>/labels/classes.json         the label spec the label maps were built with
    <cache>/labels/<subject>.npy        uint8 label map

The label maps are rebuilt when the label spec (classes, order, grouping) changes; an entry is
rebuilt when its source files are newer than it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from totalseg.dataset.layout import MASK_FOLDER, DatasetIndex
from totalseg.dataset.masks import merge_masks
from totalseg.dataset.parallel import run_parallel
from totalseg.dataset.scan import CACHE_FOLDER, Skipped
from totalseg.errors import InputError
from totalseg.io.atomic import atomic_path, atomic_write_text

ARRAYS_FOLDER = "arrays"


def default_array_dir(root: str | os.PathLike) -> Path:
    """``<root>/.totalseg-cache/arrays``, the array cache folder unless told otherwise."""
    return Path(root) / CACHE_FOLDER / ARRAYS_FOLDER


@dataclass(frozen=True)
class _Job:
    root: Path
    subject: str
    image_name: str
    cache_dir: Path
    sources: tuple[tuple[int, str], ...]
    with_labels: bool


class ArrayCache:
    """Memory-mapped ``.npy`` images and label maps of a dataset, built on first use.

    Args:
        index: the dataset.
        cache_dir: the cache folder (e.g. ``<root>/.totalseg-cache/arrays``).
        classes: ``{label id: name}`` of the masks to merge; default the dataset's class list.
        groups: optional grouping ``{new name: [mask names]}``; label ``i`` (from 1, in the order
            given) is the union of its masks. Replaces ``classes``.

    Examples:
        >>> import tempfile
        >>> from totalseg.dataset.layout import open_dataset
        >>> from totalseg.dataset.synthetic import write_mock_dataset
        >>> tmp = Path(tempfile.mkdtemp())
        >>> index = open_dataset(write_mock_dataset(tmp / "data", n_subjects=1, shape=(8, 8, 4)))
        >>> cache = ArrayCache(index, tmp / "cache", groups={"kidneys": ["kidney_left", "kidney_right"]})
        >>> cache.label_map, cache.labels("s0000").dtype, cache.labels("s0000").shape[:2]
        ({1: 'kidneys'}, dtype('uint8'), (8, 8))
    """

    def __init__(
        self,
        index: DatasetIndex,
        cache_dir: str | os.PathLike,
        *,
        classes: Mapping[int, str] | None = None,
        groups: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.index = index
        self.cache_dir = Path(cache_dir)
        self.label_map, self.sources = _label_spec(index, classes, groups)
        self._checked: set[str] = set()
        self._labels_ready = False

    def image(self, subject: str) -> np.ndarray:
        """The image of ``subject`` as a read-only memory map, shape (X, Y, Z), Fortran order."""
        return self._load(subject, "images")

    def labels(self, subject: str) -> np.ndarray:
        """The uint8 label map of ``subject`` as a read-only memory map, shape (X, Y, Z)."""
        self._ensure_label_spec()
        return self._load(subject, "labels")

    def build(self, subjects: Sequence[str] | None = None, *, labels: bool = True, workers: int | None = None,
              progress: bool = True) -> list[Skipped]:
        """Build the missing or stale entries of ``subjects`` (default all) in parallel; returns those skipped."""
        if labels:
            self._ensure_label_spec()
        ids = [s.id for s in self.index.subjects] if subjects is None else list(subjects)
        jobs = [self._job(sid, labels) for sid in ids]
        skipped = [r for r in run_parallel(_build_entry, jobs, workers=workers, progress=progress, desc="cache")
                   if r is not None]
        self._checked.update(ids)
        return sorted(skipped, key=lambda s: s.subject)

    def _job(self, subject: str, with_labels: bool) -> _Job:
        return _Job(self.index.root, subject, self.index.image_name, self.cache_dir, self.sources, with_labels)

    def _load(self, subject: str, kind: str) -> np.ndarray:
        path = self.cache_dir / kind / f"{subject}.npy"
        if subject not in self._checked or not path.exists():
            skipped = _build_entry(self._job(subject, kind == "labels"))
            if skipped is not None:
                raise InputError(skipped.reason)
            self._checked.add(subject)
        return np.load(path, mmap_mode="r")

    def _ensure_label_spec(self) -> None:
        """Drop the label maps when they were built for another label spec (the cache invalidation)."""
        if self._labels_ready:
            return
        folder = self.cache_dir / "labels"
        spec_file = folder / "classes.json"
        spec = {"label_map": {str(k): v for k, v in self.label_map.items()}, "sources": [list(s) for s in self.sources]}
        try:
            current = json.loads(spec_file.read_text()) if spec_file.is_file() else None
        except ValueError:
            current = None
        if current != spec:
            shutil.rmtree(folder, ignore_errors=True)
            atomic_write_text(spec_file, json.dumps(spec))
            self._checked.clear()
        self._labels_ready = True


def _label_spec(
    index: DatasetIndex, classes: Mapping[int, str] | None, groups: Mapping[str, Sequence[str]] | None
) -> tuple[dict[int, str], tuple[tuple[int, str], ...]]:
    """(``{label: name}``, ``((label, mask name), ...)`` in merge order)."""
    if groups is not None:
        known = set(index.classes.values())
        unknown = sorted({m for members in groups.values() for m in members} - known)
        if unknown:
            raise InputError(f"class grouping names masks not in the class list: {', '.join(unknown[:5])}")
        label_map = {i: name for i, name in enumerate(groups, start=1)}
        sources = tuple((i, m) for i, name in label_map.items() for m in groups[name])
    else:
        label_map = {int(k): str(v) for k, v in (classes or index.classes).items()}
        sources = tuple(label_map.items())
    if not label_map or max(label_map) > 255 or min(label_map) < 1:
        raise InputError("label ids must be 1..255 for uint8 label maps; pass fewer classes")
    return label_map, sources


def _build_entry(job: _Job) -> Skipped | None:
    """Write the image (and label) ``.npy`` of one subject unless present and newer than its sources."""
    folder = job.root / job.subject
    image_src = folder / job.image_name
    image_npy = job.cache_dir / "images" / f"{job.subject}.npy"
    try:
        if _stale(image_npy, [image_src]):
            from totalseg.io.readers import read_volume

            _save(image_npy, np.asfortranarray(read_volume(image_src).array))
        if job.with_labels:
            labels_npy = job.cache_dir / "labels" / f"{job.subject}.npy"
            masks = [folder / MASK_FOLDER / f"{name}.nii.gz" for _, name in job.sources]
            if _stale(labels_npy, [image_src, *masks]):
                shape = np.load(image_npy, mmap_mode="r").shape
                _save(labels_npy, merge_masks(folder / MASK_FOLDER, shape, job.sources))
    except InputError as exc:
        return Skipped(job.subject, str(exc))
    return None


def _stale(target: Path, sources: list[Path]) -> bool:
    """Missing, damaged (not a whole ``.npy``) or older than one of its sources."""
    try:
        built = target.stat()
    except OSError:
        return True
    if not _whole_npy(target, built.st_size):
        return True
    return any(src.exists() and src.stat().st_mtime_ns > built.st_mtime_ns for src in sources)


def _whole_npy(path: Path, size: int) -> bool:
    """Whether ``path`` holds a readable ``.npy`` header and all the bytes it announces (no data is read)."""
    try:
        array = np.load(path, mmap_mode="r")  # maps the file: its header is parsed, its data left on disk
        return isinstance(array, np.memmap) and size == array.offset + array.nbytes
    except (OSError, ValueError, EOFError):
        return False


def _save(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, array)  # keeps Fortran order: a slice along the last axis stays one block
