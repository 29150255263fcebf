"""The case a browser session works on: the input image and, after a run, its segmentation."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from totalseg.imaging.orientation import to_canonical
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.io import load_label_map, read_volume
from totalseg.settings import Settings


@dataclass(frozen=True)
class RunChoice:
    """What the user asked for on the Segment page.

    Examples:
        >>> RunChoice(task="total", mode="fast").segment_kwargs()["fast"]
        True
    """

    task: str = "total"
    mode: str = "fast"
    roi_subset: tuple[str, ...] = ()
    device: str = "cpu"
    precision: str = "nnunet"  # "bf16": the opt-in faster network, masks not identical to the official tool's

    def segment_kwargs(self) -> dict:
        """Keyword arguments of :func:`totalseg.segment` for this choice."""
        return {
            "task": self.task,
            "fast": self.mode == "fast",
            "fastest": self.mode == "fastest",
            "roi_subset": list(self.roi_subset) or None,
            "device": self.device,
            "precision": self.precision,
        }


@dataclass(frozen=True, eq=False)
class Case:
    """An input image (kept on the server as ``path``) and, once segmented, its labels.

    Attributes:
        name: what the user uploaded or chose.
        path: the file (or DICOM zip) on the server that runs read.
        image: the image as read by the library.
        labels: the multilabel segmentation on the image grid (uint8), after a run.
        classes: label id -> structure name of ``labels``.
        choice: the run that produced ``labels``.
        seconds: how long that run took.
        series: the DICOM series (:class:`totalseg.io.dicom.DicomSeries`) of a DICOM input, whose
            headers the DICOM-SEG and RTSTRUCT exports reference; ``None`` for other files.
        notes: what the reader warned about while reading the image.
    """

    name: str
    path: Path
    image: Volume
    labels: LabelVolume | None = None
    classes: dict[int, str] = field(default_factory=dict)
    choice: RunChoice | None = None
    seconds: float = 0.0
    series: Any = None
    notes: tuple[str, ...] = ()

    @property
    def is_dicom(self) -> bool:
        """Whether the image came from a DICOM series (DICOM-SEG and RTSTRUCT can reference it)."""
        return self.series is not None

    @cached_property
    def modality(self) -> str:
        """``ct`` or ``mr``: from the task that segmented it, the DICOM header, else guessed from intensities."""
        if self.choice is not None:
            return "mr" if self.choice.task.endswith("_mr") else "ct"
        if self.series is not None:
            return "mr" if self.series.modality == "MR" else "ct"
        return "ct" if self.intensity_range[0] < -500 else "mr"

    @cached_property
    def intensity_range(self) -> tuple[float, float]:
        """Lowest and highest voxel value of the image."""
        return float(np.min(self.image.array)), float(np.max(self.image.array))

    @cached_property
    def canonical_image(self) -> np.ndarray:
        """The image array in RAS+ (X, Y, Z) order, for display."""
        return to_canonical(self.image)[0].array

    @cached_property
    def canonical_labels(self) -> np.ndarray | None:
        """The labels in RAS+ (X, Y, Z) order, for display; ``None`` before a run."""
        return None if self.labels is None else to_canonical(self.labels)[0].array

    @cached_property
    def canonical_spacing_mm(self) -> tuple[float, float, float]:
        """Voxel spacing (mm) along the RAS+ axes."""
        return to_canonical(self.image)[0].spacing_mm

    @cached_property
    def voxel_counts(self) -> dict[int, int]:
        """Voxels per present label id (background excluded)."""
        if self.labels is None:
            return {}
        counts = np.bincount(self.labels.array.ravel(), minlength=max(self.classes, default=0) + 1)
        return {i: int(n) for i, n in enumerate(counts) if i and n}

    @property
    def present(self) -> dict[int, str]:
        """Label id -> name of the structures with at least one voxel."""
        return {i: self.classes.get(i, f"label {i}") for i in self.voxel_counts}

    def with_segmentation(self, labels: LabelVolume, classes: dict[int, str], choice: RunChoice,
                          seconds: float) -> Case:
        """A copy of this case with a run's labels (on the image grid), class names, choice and run time."""
        return replace(self, labels=labels, classes=dict(classes), choice=choice, seconds=seconds)


def open_case(name: str, path: Path) -> Case:
    """Read an image file, or a DICOM series (a folder or ``.zip``; its headers are kept for the DICOM exports).

    The readers' warnings (filled UIDs, gantry tilt, a 4-D file's first volume) become the case's
    ``notes``, shown with the image, without the server folder they were read from.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if path.is_dir() or path.name.lower().endswith(".zip"):
            from totalseg.io.dicom import read_dicom_series

            series = read_dicom_series(path)
            image = series.volume
        else:
            series, image = None, read_volume(path)
    notes = tuple(dict.fromkeys(str(w.message).replace(f"{path.parent}/", "") for w in caught))
    return Case(name=name, path=path, image=image, series=series, notes=notes)


def segment_case(case: Case, choice: RunChoice, *, settings: Settings, download: bool,
                 on_tile: Callable[[], None] | None = None, on_stage: Callable[[str], None] | None = None) -> Case:
    """Run :func:`totalseg.segment` on the case's image and return the case with its labels."""
    from totalseg.api import segment

    start = time.perf_counter()
    img = segment(case.image, None, quiet=True, download=download, settings=settings, on_tile=on_tile,
                  on_stage=on_stage, **choice.segment_kwargs())
    labels = LabelVolume(np.asanyarray(img.dataobj), affine=img.affine, header=img.header)
    return case.with_segmentation(labels, load_label_map(img), choice, time.perf_counter() - start)
