"""CT-like torso phantoms in nnU-Net raw format, for tests, demos and benchmarks.

Each phantom is an elliptic body (fat rim around soft tissue, air outside) holding a few ellipsoid
"organs" with distinct attenuation, random size and position, plus Gaussian noise; the labels are
the organs. They are easy but not trivial: organs touch, vary in shape and sit anywhere in the body.
Tubes (:data:`TUBES`) are long, narrow ellipsoids: a contrast-filled aorta-like vessel and a thin
vessel one to two voxels wide at 3 mm. :data:`PHANTOM_KINDS` names the sets the training budget
benchmark uses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.errors import InputError
from totalseg.io.atomic import atomic_write_text

# name: (HU, radius range in mm)
ORGANS = {
    "liver": (120.0, (22.0, 32.0)),
    "kidney": (220.0, (15.0, 21.0)),
    "lung": (-780.0, (20.0, 30.0)),
    "bone": (700.0, (12.0, 17.0)),
}
# name: (HU, radius range in mm, half length in mm)
TUBES = {
    "aorta": (300.0, (8.0, 11.0), 70.0),
    "vessel": (250.0, (2.5, 4.0), 70.0),
}


@dataclass(frozen=True)
class PhantomKind:
    """A named phantom set: structures, case count, image shape and spacing (X, Y, Z)."""

    organs: tuple[str, ...]
    n_train: int
    n_test: int
    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    note: str


PHANTOM_KINDS = {
    "organs5": PhantomKind(("liver", "kidney", "lung", "bone", "aorta"), 24, 8, (48, 48, 48), (3.0, 3.0, 3.0),
                           "5 structures (4 organs and an aorta-like tube), 24 training cases at 3 mm"),
    "thin": PhantomKind(("liver", "lung", "bone", "vessel"), 24, 8, (48, 48, 48), (3.0, 3.0, 3.0),
                        "3 organs and a thin vessel (5-8 mm wide, 2-3 voxels), 24 training cases at 3 mm"),
    "aniso": PhantomKind(("liver", "kidney", "lung", "bone"), 24, 8, (72, 72, 24), (2.0, 2.0, 6.0),
                         "4 organs, anisotropic 2 x 2 x 6 mm voxels, 24 training cases"),
}


def make_phantom(
    rng: np.random.Generator,
    *,
    shape: tuple[int, int, int] = (48, 48, 48),
    spacing_mm: float | Sequence[float] = 3.0,
    organs: Sequence[str] = tuple(ORGANS),
) -> tuple[np.ndarray, np.ndarray]:
    """One phantom: (image int16 in HU, labels uint8 with ids 1.. in ``organs`` order), (X, Y, Z).

    ``organs`` picks from :data:`ORGANS` and :data:`TUBES`; ``spacing_mm`` is one number or (X, Y, Z).
    Organs touch but rarely engulf each other: each is placed where it overlaps those before it least
    (of a few random poses); a later organ wins the overlap.

    Examples:
        >>> image, labels = make_phantom(np.random.default_rng(0), shape=(32, 32, 32))
        >>> image.dtype, labels.max()
        (dtype('int16'), np.uint8(4))
    """
    spacing = np.broadcast_to(np.asarray(spacing_mm, dtype=float), (3,))
    mm = np.stack(np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing)], indexing="ij"))
    half = np.array(shape) * spacing / 2
    body_r = half[:2] * rng.uniform(0.8, 0.95, 2)
    body = (mm[0] / body_r[0]) ** 2 + (mm[1] / body_r[1]) ** 2 < 1
    inner = (mm[0] / (body_r[0] - 6)) ** 2 + (mm[1] / (body_r[1] - 6)) ** 2 < 1
    image = np.full(shape, -1000.0)
    image[body] = -100.0  # fat
    image[inner] = 40.0  # soft tissue
    labels = np.zeros(shape, np.uint8)
    for label, name in enumerate(organs, start=1):
        if name in TUBES:
            hu, (r_min, r_max), length = TUBES[name]
            radii = np.r_[np.full(2, rng.uniform(r_min, r_max)), length]
        else:
            hu, (r_min, r_max) = ORGANS[name]
            radii = rng.uniform(r_min, r_max, 3) * np.array([1, 1, 1.3])
        room = np.maximum(np.r_[body_r - 6, half[2]] - radii.min(), 1)
        organ = _place(rng, mm, radii, room, inner, labels > 0)
        image[organ] = hu
        labels[organ] = label
    image += rng.normal(0, 25, shape)
    return np.round(image).astype(np.int16), labels


def write_phantom_dataset(
    root: str | os.PathLike,
    *,
    n_train: int = 20,
    n_test: int = 0,
    shape: tuple[int, int, int] = (48, 48, 48),
    spacing_mm: float | Sequence[float] = 3.0,
    seed: int = 0,
    organs: Sequence[str] = tuple(ORGANS),
) -> Path:
    """Write an nnU-Net raw dataset of phantoms: imagesTr/labelsTr (+ imagesTs/labelsTs) and dataset.json.

    Raises:
        InputError: an organ name not in :data:`ORGANS`.

    Examples:
        >>> write_phantom_dataset(tmp_path / "Dataset900_Phantom", n_train=4)  # doctest: +SKIP
    """
    unknown = [o for o in organs if o not in ORGANS and o not in TUBES]
    if unknown or not organs:
        raise InputError(f"unknown phantom organs {unknown or '(none)'}; choose from {', '.join([*ORGANS, *TUBES])}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    affine = np.diag([*np.broadcast_to(np.asarray(spacing_mm, dtype=float), (3,)), 1.0])
    for split, count, offset in (("Tr", n_train, 0), ("Ts", n_test, n_train)):
        if count == 0:
            continue
        (root / f"images{split}").mkdir(parents=True, exist_ok=True)
        (root / f"labels{split}").mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image, labels = make_phantom(rng, shape=shape, spacing_mm=spacing_mm, organs=organs)
            case = f"phantom_{offset + i:03d}"
            nib.save(nib.Nifti1Image(image, affine), root / f"images{split}" / f"{case}_0000.nii.gz")
            nib.save(nib.Nifti1Image(labels, affine), root / f"labels{split}" / f"{case}.nii.gz")
    meta = {"channel_names": {"0": "CT"}, "labels": {"background": 0, **{n: i for i, n in enumerate(organs, 1)}},
            "numTraining": n_train, "file_ending": ".nii.gz", "name": "phantom"}
    atomic_write_text(root / "dataset.json", json.dumps(meta, indent=2))
    return root


def _place(
    rng: np.random.Generator, mm: np.ndarray, radii: np.ndarray, room: np.ndarray, inner: np.ndarray,
    taken: np.ndarray, *, tries: int = 10, max_overlap: float = 0.1,
) -> np.ndarray:
    """An ellipsoid inside the body at a random pose, the first of ``tries`` poses that overlaps the
    organs already placed by at most ``max_overlap`` of its volume (else the least overlapping)."""
    best, best_overlap = None, np.inf
    for _ in range(tries):
        centre = rng.uniform(-room, room) * 0.8
        local = np.einsum("ij,j...->i...", _random_rotation(rng).T, mm - centre[:, None, None, None])
        organ = (((local / radii[:, None, None, None]) ** 2).sum(0) < 1) & inner
        overlap = (organ & taken).sum() / max(organ.sum(), 1)
        if overlap < best_overlap:
            best, best_overlap = organ, overlap
        if overlap <= max_overlap:
            break
    return best


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def write_phantom_kind(root: str | os.PathLike, kind: str, *, seed: int = 0) -> Path:
    """Write one of :data:`PHANTOM_KINDS` (training and held-out test cases) as an nnU-Net raw dataset.

    Raises:
        InputError: an unknown kind.

    Examples:
        >>> write_phantom_kind(tmp_path / "Dataset901_Organs5", "organs5")  # doctest: +SKIP
    """
    if kind not in PHANTOM_KINDS:
        raise InputError(f"unknown phantom kind {kind!r}; choose from {', '.join(PHANTOM_KINDS)}")
    k = PHANTOM_KINDS[kind]
    return write_phantom_dataset(root, n_train=k.n_train, n_test=k.n_test, shape=k.shape, spacing_mm=k.spacing_mm,
                                 seed=seed, organs=k.organs)
