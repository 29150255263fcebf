"""A seeded mock dataset in the exact Zenodo layout, for tests, benchmarks and trying the tools offline.

``meta.csv`` is ``;``-separated UTF-8 with a byte-order mark and the official v2 columns; every
subject has ``ct.nii.gz`` (MRI: ``mri.nii.gz``, int16/uint16) and one ``segmentations/<name>.nii.gz``
per class of the official class map, empty ones included. Structures are ellipsoids at random places,
each present in about ``present_fraction`` of the subjects; a later class overwrites an earlier one,
so the masks of a subject do not overlap.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.anatomy import class_map
from totalseg.dataset.layout import IMAGE_NAMES, MASK_FOLDER
from totalseg.imaging.volume import LabelVolume
from totalseg.io.writers import write_class_masks

META_COLUMNS_V2 = (
    "image_id", "age", "gender", "institute", "study_type", "split", "manufacturer", "scanner_model", "kvp",
    "pathology", "pathology_location",
)
DEFAULT_CLASS_MAPS = {"ct": "total", "mr": "mri_dataset_v100"}


def write_mock_dataset(
    root: str | os.PathLike,
    *,
    n_subjects: int = 4,
    shape: tuple[int, int, int] = (24, 20, 16),
    modality: str = "ct",
    classes: str | None = None,
    spacing_mm: float = 1.5,
    present_fraction: float = 0.5,
    oblique: bool = False,
    seed: int = 0,
    threads: int | None = None,
) -> Path:
    """Write a mock dataset of ``n_subjects`` subjects ``s0000``, ``s0001``, ... into ``root``.

    Args:
        root: target folder (created).
        n_subjects: number of subject folders.
        shape: image shape of the first subject; later ones have up to 25 % more slices.
        modality: ``"ct"`` or ``"mr"``.
        classes: class map name; default ``total`` for CT, ``mri_dataset_v100`` for MR.
        spacing_mm: isotropic voxel size.
        present_fraction: chance that a structure appears in a subject.
        oblique: give each subject a random rotation and axis flips (odd affines).
        seed: random seed; the same arguments give the same files.
        threads: mask-writing threads.

    Returns:
        ``root``.

    Examples:
        >>> import tempfile
        >>> root = write_mock_dataset(Path(tempfile.mkdtemp()), n_subjects=1, shape=(6, 6, 4))
        >>> sorted(p.name for p in root.iterdir())
        ['meta.csv', 's0000']
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    names = class_map(classes or DEFAULT_CLASS_MAPS[modality])
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_subjects):
        sid = f"s{i:04d}"
        subject_shape = (shape[0], shape[1], shape[2] + int(rng.integers(0, shape[2] // 4 + 1)))
        affine = _affine(rng, spacing_mm, oblique)
        _write_subject(root / sid, rng, subject_shape, affine, modality, names, present_fraction, threads)
        rows.append(_meta_row(sid, i, rng))
    write_meta(root / "meta.csv", META_COLUMNS_V2, rows)
    return root


def write_meta(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    """Write a ``meta.csv`` as Zenodo ships it: ``;``-separated, UTF-8 with a byte-order mark."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, delimiter=";", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8-sig")


def _affine(rng: np.random.Generator, spacing_mm: float, oblique: bool) -> np.ndarray:
    affine = np.diag([spacing_mm, spacing_mm, spacing_mm, 1.0])
    if oblique:
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        flips = np.diag(rng.choice([-1.0, 1.0], 3))
        affine[:3, :3] = q @ flips * spacing_mm
    affine[:3, 3] = rng.uniform(-200, 200, 3)
    return affine


def _write_subject(
    folder: Path, rng: np.random.Generator, shape: tuple[int, int, int], affine: np.ndarray, modality: str,
    names: dict[int, str], present_fraction: float, threads: int | None,
) -> None:
    labels = np.zeros(shape, np.uint8)
    for class_id in names:
        if rng.random() < present_fraction:
            _draw_ellipsoid(labels, rng, class_id)
    image = _image(rng, labels, modality)
    folder.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(image, affine), folder / IMAGE_NAMES[modality])
    write_class_masks(LabelVolume(labels, affine=affine), folder / MASK_FOLDER, names, threads=threads)


def _draw_ellipsoid(labels: np.ndarray, rng: np.random.Generator, value: int) -> None:
    """Paint an ellipsoid of random centre and radii (1 voxel .. 1/6 of each axis) with ``value``."""
    radii = [int(rng.integers(1, max(2, s // 6) + 1)) for s in labels.shape]
    centre = [int(rng.integers(0, s)) for s in labels.shape]
    lo = [max(0, c - r) for c, r in zip(centre, radii)]
    hi = [min(s, c + r + 1) for s, c, r in zip(labels.shape, centre, radii)]
    grids = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi))]
    inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)) <= 1.0
    labels[tuple(slice(a, b) for a, b in zip(lo, hi))][inside] = value


def _image(rng: np.random.Generator, labels: np.ndarray, modality: str) -> np.ndarray:
    base = -1000.0 if modality == "ct" else 0.0
    image = np.full(labels.shape, base, np.float32)
    image[labels > 0] = 40.0 + 3.0 * labels[labels > 0]
    image += rng.normal(0.0, 10.0, labels.shape).astype(np.float32)
    return image.astype(np.int16) if modality == "ct" else np.clip(image, 0, None).astype(np.uint16)


def _meta_row(sid: str, i: int, rng: np.random.Generator) -> dict[str, str]:
    split = ("train",) * 7 + ("val",) + ("test",) * 2
    return {
        "image_id": sid, "age": str(int(rng.integers(18, 90))), "gender": str(rng.choice(["m", "f"])),
        "institute": "A", "study_type": "ct thorax-abdomen", "split": split[i % 10], "manufacturer": "Siemens",
        "scanner_model": "Somatom Définition", "kvp": "120", "pathology": "no_pathology", "pathology_location": "",
    }
