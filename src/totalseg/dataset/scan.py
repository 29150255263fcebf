"""One pass over a dataset's masks: per subject and class, the non-zero voxels in every slice.

That table is all the slice manifest (presence per slice) and the label statistics (voxel counts)
need, so each mask is decompressed once for both, and a manifest with another ``--every`` costs
nothing. Subjects run in parallel; each result is saved as ``<cache>/scan/<subject>.npz`` the moment
it is done, so an interrupted pass resumes where it stopped. A saved scan is reused while the class
list and the size and modification time of the subject's files are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.dataset.layout import DatasetIndex
from totalseg.dataset.masks import read_nifti, slice_voxel_counts
from totalseg.dataset.parallel import run_parallel
from totalseg.errors import InputError, OutputError
from totalseg.io.atomic import atomic_path

CACHE_FOLDER = ".totalseg-cache"


@dataclass(frozen=True)
class SubjectScan:
    """The scan of one subject.

    Attributes:
        subject: subject id.
        shape: image shape (X, Y, Z).
        spacing_mm: image voxel size.
        counts: (classes, Z) int32, non-zero mask voxels per class and slice, classes in index order.
        missing: classes whose mask file does not exist (their counts are 0).
    """

    subject: str
    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    counts: np.ndarray
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """A subject left out, and why (the message names the file)."""

    subject: str
    reason: str


@dataclass
class ScanResult:
    """Scans of the subjects that could be read (by subject id, sorted) and the subjects skipped."""

    classes: dict[int, str]
    scans: dict[str, SubjectScan] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def missing_masks(self) -> list[str]:
        """``subject/class`` for every missing mask file (counted as empty)."""
        return [f"{s.subject}/{name}" for s in self.scans.values() for name in s.missing]


@dataclass(frozen=True)
class _Job:
    root: Path
    subject: str
    image_name: str
    classes: tuple[str, ...]
    cache_file: Path | None


def default_cache_dir(root: str | os.PathLike) -> Path:
    """``<root>/.totalseg-cache``, where scans and arrays are kept unless told otherwise."""
    return Path(root) / CACHE_FOLDER


def scan_dataset(
    index: DatasetIndex,
    *,
    cache_dir: str | os.PathLike | None = None,
    subjects: Sequence[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> ScanResult:
    """Scan every subject (or ``subjects``) of ``index``: one decompression per mask file.

    Args:
        index: the dataset.
        cache_dir: where per-subject scans are saved and reused; ``None``: no cache (not resumable).
        subjects: subject ids to scan; default all.
        workers: processes; default the CPUs available (at most 8).
        progress: show a progress bar.

    Returns:
        A :class:`ScanResult`; unreadable subjects (image missing or unreadable, a mask truncated or
        of another shape than the image) are in ``skipped`` and the rest goes on.

    Examples:
        >>> import tempfile
        >>> from totalseg.dataset.layout import open_dataset
        >>> from totalseg.dataset.synthetic import write_mock_dataset
        >>> index = open_dataset(write_mock_dataset(Path(tempfile.mkdtemp()), n_subjects=1, shape=(8, 8, 4)))
        >>> result = scan_dataset(index, workers=1, progress=False)
        >>> result.scans["s0000"].counts.shape[0], result.skipped  # counts: (classes, slices)
        (117, [])
    """
    names = tuple(index.classes.values())
    scan_dir = _make_scan_dir(cache_dir) if cache_dir is not None else None
    ids = [s.id for s in index.subjects] if subjects is None else list(subjects)
    jobs = [_Job(index.root, sid, index.image_name, names, scan_dir / f"{sid}.npz" if scan_dir else None)
            for sid in ids]
    result = ScanResult(dict(index.classes))
    for item in run_parallel(_scan_job, jobs, workers=workers, progress=progress, desc="scan"):
        if isinstance(item, Skipped):
            result.skipped.append(item)
        else:
            result.scans[item.subject] = item
    result.scans = dict(sorted(result.scans.items()))
    result.skipped.sort(key=lambda s: s.subject)
    return result


def scan_subject(root: Path, subject: str, image_name: str, classes: Sequence[str]) -> SubjectScan:
    """Scan one subject folder (no cache).

    Raises:
        InputError: the image is missing or unreadable, a mask is unreadable or of another shape.
    """
    image_path = root / subject / image_name
    shape, spacing = _image_geometry(image_path)
    counts = np.zeros((len(classes), shape[2]), np.int32)
    missing = []
    for row, name in enumerate(classes):
        path = root / subject / "segmentations" / f"{name}.nii.gz"
        if not path.exists():
            missing.append(name)
            continue
        mask = read_nifti(path)
        if mask.array.shape != shape:
            raise InputError(f"{path}: shape {mask.array.shape} differs from the image's {shape}")
        counts[row] = slice_voxel_counts(mask.array)
    return SubjectScan(subject, shape, spacing, counts, tuple(missing))


def _scan_job(job: _Job) -> SubjectScan | Skipped:
    fingerprint = _fingerprint(job)
    if job.cache_file is not None:
        cached = _load(job.cache_file, fingerprint)
        if cached is not None:
            return cached
    try:
        scan = scan_subject(job.root, job.subject, job.image_name, job.classes)
    except InputError as exc:
        return Skipped(job.subject, str(exc))
    if job.cache_file is not None:
        _save(job.cache_file, scan, fingerprint)
    return scan


def _image_geometry(path: Path) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
    if not path.is_file():
        raise InputError(f"{path}: image missing; download the dataset again")
    try:
        header = nib.load(path).header
    except Exception as exc:  # nibabel raises many types for broken files
        raise InputError(f"{path}: cannot read the image header ({exc}); download the dataset again") from None
    shape = tuple(int(s) for s in header.get_data_shape())
    if len(shape) != 3:
        raise InputError(f"{path}: expected a 3-D image, got shape {shape}")
    return shape, tuple(float(z) for z in header.get_zooms()[:3])  # type: ignore[return-value]


def _fingerprint(job: _Job) -> str:
    """A hash of the class list and the size and mtime of the subject's image and masks."""
    folder = job.root / job.subject
    entries: list = [list(job.classes)]
    for path in [folder / job.image_name, *(folder / "segmentations" / f"{n}.nii.gz" for n in job.classes)]:
        try:
            st = path.stat()
            entries.append([path.name, st.st_size, st.st_mtime_ns])
        except OSError:
            entries.append([path.name, None])
    return hashlib.sha1(json.dumps(entries).encode()).hexdigest()


def _load(path: Path, fingerprint: str) -> SubjectScan | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["fingerprint"]) != fingerprint:
                return None
            return SubjectScan(
                str(data["subject"]), tuple(int(v) for v in data["shape"]),  # type: ignore[arg-type]
                tuple(float(v) for v in data["spacing_mm"]), data["counts"],  # type: ignore[arg-type]
                tuple(str(v) for v in data["missing"]),
            )
    except (OSError, KeyError, ValueError):  # absent, partial or from another version: scan again
        return None


def _save(path: Path, scan: SubjectScan, fingerprint: str) -> None:
    try:
        with atomic_path(path) as tmp:
            np.savez_compressed(
                tmp, subject=scan.subject, shape=np.array(scan.shape), spacing_mm=np.array(scan.spacing_mm),
                counts=scan.counts, missing=np.array(scan.missing, dtype=str), fingerprint=fingerprint,
            )
    except OutputError:
        pass  # a cache that cannot be written only costs a rescan later


def _make_scan_dir(cache_dir: str | os.PathLike) -> Path:
    folder = Path(cache_dir) / "scan"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the cache folder {folder} ({exc.strerror}); pass --cache DIR") from None
    return folder
