"""Check a dataset folder: missing masks, unreadable or truncated files, masks whose shape or affine
differ from their image, and mask files that are not in the class list.

The full check decompresses every file (a truncated gzip is only found at its end); ``quick`` reads
the headers only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.dataset.layout import MASK_FOLDER, MASK_SUFFIX, DatasetIndex
from totalseg.dataset.masks import read_nifti
from totalseg.dataset.parallel import run_parallel
from totalseg.errors import InputError

AFFINE_TOLERANCE_MM = 1e-3
"""Largest difference between a mask's and its image's affine entries that is not reported."""
PROBLEM_KINDS = ("missing", "unreadable", "shape", "affine", "unexpected")


@dataclass(frozen=True)
class Problem:
    """One finding: the file (relative to the dataset root), its kind and what was seen."""

    path: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind:10s} {self.path}: {self.detail}"


@dataclass
class CheckReport:
    """All problems found, in subject then file order, and how many subjects and files were looked at."""

    subjects: int = 0
    files: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        """Problems per kind, e.g. ``{"missing": 3}``."""
        return dict(Counter(p.kind for p in self.problems))


@dataclass(frozen=True)
class _Job:
    root: Path
    subject: str
    image_name: str
    classes: tuple[str, ...]
    present: frozenset[str]
    quick: bool


def check_dataset(index: DatasetIndex, *, quick: bool = False, workers: int | None = None,
                  progress: bool = True) -> CheckReport:
    """Check every subject of ``index``; the work goes on past any problem.

    Args:
        index: the dataset.
        quick: read headers only (finds missing files, shape and affine mismatches, but not truncation).
        workers: processes.
        progress: show a progress bar.

    Examples:
        >>> import tempfile
        >>> from totalseg.dataset.layout import open_dataset
        >>> from totalseg.dataset.synthetic import write_mock_dataset
        >>> root = write_mock_dataset(Path(tempfile.mkdtemp()), n_subjects=1, shape=(6, 6, 4))
        >>> (root / "s0000/segmentations/liver.nii.gz").unlink()
        >>> [str(p) for p in check_dataset(open_dataset(root), workers=1, progress=False).problems]
        ['missing    s0000/segmentations/liver.nii.gz: mask file missing']
    """
    names = tuple(index.classes.values())
    jobs = [_Job(index.root, s.id, index.image_name, names, s.masks, quick) for s in index.subjects]
    report = CheckReport(subjects=len(jobs))
    found: dict[str, list[Problem]] = {}
    for sid, n_files, problems in run_parallel(_check_subject, jobs, workers=workers, progress=progress, desc="check"):
        report.files += n_files
        found[sid] = problems
    for sid in sorted(found):
        report.problems += found[sid]
    return report


def _check_subject(job: _Job) -> tuple[str, int, list[Problem]]:
    problems: list[Problem] = []
    image_rel = f"{job.subject}/{job.image_name}"
    image = _geometry(job.root / image_rel, image_rel, job.quick, problems, missing_detail="image file missing")
    n_files = 1
    for name in job.classes:
        rel = f"{job.subject}/{MASK_FOLDER}/{name}{MASK_SUFFIX}"
        if name not in job.present:
            problems.append(Problem(rel, "missing", "mask file missing"))
            continue
        n_files += 1
        mask = _geometry(job.root / rel, rel, job.quick, problems)
        if mask is not None and image is not None:
            _compare(rel, mask, image, problems)
    for name in sorted(job.present - set(job.classes)):
        problems.append(Problem(f"{job.subject}/{MASK_FOLDER}/{name}{MASK_SUFFIX}", "unexpected",
                                "not in the class list; ignored"))
    return job.subject, n_files, problems


def _geometry(path: Path, rel: str, quick: bool, problems: list[Problem], *,
              missing_detail: str = "file missing") -> tuple[tuple[int, ...], np.ndarray] | None:
    """(shape, affine) of a file, reading all of its data unless ``quick``; records a problem if unreadable."""
    if not path.is_file():
        problems.append(Problem(rel, "missing", missing_detail))
        return None
    try:
        if quick:
            header = nib.load(path).header
            return tuple(int(s) for s in header.get_data_shape()), header.get_best_affine()
        data = read_nifti(path)
        return data.array.shape, data.affine
    except InputError as exc:
        problems.append(Problem(rel, "unreadable", str(exc).split(": ", 1)[-1]))
    except Exception as exc:  # nibabel's header errors come in several types
        problems.append(Problem(rel, "unreadable", f"{type(exc).__name__}: {exc}"))
    return None


def _compare(rel: str, mask: tuple, image: tuple, problems: list[Problem]) -> None:
    (mask_shape, mask_affine), (image_shape, image_affine) = mask, image
    if tuple(mask_shape) != tuple(image_shape):
        detail = f"shape {tuple(mask_shape)} differs from the image's {tuple(image_shape)}"
        problems.append(Problem(rel, "shape", detail))
        return
    diff = float(np.abs(np.asarray(mask_affine) - np.asarray(image_affine)).max())
    if diff > AFFINE_TOLERANCE_MM:
        problems.append(Problem(rel, "affine", f"affine differs from the image's by up to {diff:.4g} mm"))
