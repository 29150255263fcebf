"""The dataset fingerprint the planner works from: spacings, shapes and foreground intensities.

Images are taken in canonical (RAS) orientation, as the inference pipeline sees them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from totalseg.errors import InputError
from totalseg.imaging.orientation import to_canonical
from totalseg.imaging.resample import header_zooms
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.io import read_volume
from totalseg.training.raw import RawCase, RawDataset

# Foreground voxels sampled per case for the intensity statistics (nnU-Net samples 10,000).
SAMPLES_PER_CASE = 10_000


@dataclass(frozen=True)
class Fingerprint:
    """Per-case canonical spacing and shape (X, Y, Z) and pooled foreground intensity statistics."""

    spacings_mm: tuple[tuple[float, float, float], ...]
    shapes: tuple[tuple[int, int, int], ...]
    intensity: dict[str, float]  # mean, std, median, min, max, percentile_00_5, percentile_99_5

    @property
    def median_spacing_mm(self) -> np.ndarray:
        return np.median(np.array(self.spacings_mm), axis=0)


def compute_fingerprint(
    dataset: RawDataset, case_ids: list[str] | None = None, *, on_case: Callable[[str], None] | None = None
) -> Fingerprint:
    """Read every (or the given) training case once and collect what the planner needs."""
    rng = np.random.default_rng(1234)
    spacings, shapes, samples = [], [], []
    cases = [c for c in dataset.cases if case_ids is None or c.case_id in case_ids]
    for case in cases:
        image, labels = read_case(case)
        spacings.append(tuple(float(s) for s in header_zooms(image.affine)))
        shapes.append(image.shape)
        foreground = image.array[labels.array > 0]
        if foreground.size:
            samples.append(rng.choice(foreground, min(SAMPLES_PER_CASE, foreground.size), replace=False))
        if on_case is not None:
            on_case(case.case_id)
    if not samples:
        raise InputError(f"{dataset.root}: every label map is empty; nothing to learn")
    pooled = np.concatenate(samples).astype(np.float64)
    intensity = {
        "mean": float(pooled.mean()), "std": float(pooled.std()), "median": float(np.median(pooled)),
        "min": float(pooled.min()), "max": float(pooled.max()),
        "percentile_00_5": float(np.percentile(pooled, 0.5)), "percentile_99_5": float(np.percentile(pooled, 99.5)),
    }
    return Fingerprint(tuple(spacings), tuple(shapes), intensity)


def read_case(case: RawCase, *, canonical: bool = True) -> tuple[Volume, LabelVolume]:
    """(image, labels) of a case, in their closest canonical orientation or as stored; the two must
    share their grid.

    Raises:
        InputError: the label map is on another grid or holds non-integer values.
    """
    image = read_volume(case.image)
    raw_labels = read_volume(case.label)
    labels = LabelVolume(raw_labels.array, affine=raw_labels.affine)
    if canonical:
        (image, _), (labels, _) = to_canonical(image), to_canonical(labels)
    if image.shape != labels.shape or not np.allclose(image.affine, labels.affine, atol=1e-3):
        raise InputError(f"{case.label}: label map grid {labels.shape} does not match its image {image.shape} "
                         f"({case.image}); labels must be on the image's grid")
    if labels.array.dtype.kind == "f" and np.any(labels.array != np.round(labels.array)):
        raise InputError(f"{case.label}: not a label map (non-integer values)")
    return image, labels
