"""What ``segment()`` writes besides the masks: statistics.json, clinical.json and preview_<task>.png.

The official tool writes ``statistics.json`` into the output folder (the multilabel file's folder
with ``--ml``, the DICOM file's folder with DICOM outputs) or to a path given to ``--statistics``;
with ``--fast`` it computes the statistics on the 3 mm model grid (canonical, resampled) inside
the pipeline, otherwise on the input image. :class:`ModelGridCapture` receives that grid from the
engine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from totalseg.errors import InputError
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.measure.statistics import AGGREGATIONS


@dataclass(frozen=True)
class MeasureOptions:
    """Which report files to write; ``statistics`` may be a file path instead of ``True``."""

    statistics: bool | str | os.PathLike = False
    statistics_extra: bool = False
    include_incomplete: bool = False
    aggregation: str = "mean"
    clinical: bool = False
    preview: bool = False
    fast: bool = False  # the official --fast rule: statistics on the model grid

    def targets(self, folder: Path | None, task_name: str = "total") -> dict[str, Path]:
        """Report name -> path, checked before any work (``folder``: where the outputs go); the
        preview has the official name ``preview_<task>.png``."""
        if self.aggregation not in AGGREGATIONS:
            raise InputError(f"statistics aggregation must be one of {', '.join(AGGREGATIONS)}, "
                             f"got {self.aggregation!r}")
        wanted = {"statistics": bool(self.statistics), "clinical": self.clinical, "preview": self.preview}
        paths: dict[str, Path] = {}
        if self.statistics and not isinstance(self.statistics, bool):
            paths["statistics"] = Path(self.statistics).absolute()
        for name, on in wanted.items():
            if not on or name in paths:
                continue
            if folder is None:
                raise InputError(f"{name} needs an output folder to write into; pass an output"
                                 + (" or statistics='path/statistics.json'" if name == "statistics" else ""))
            paths[name] = folder / {"statistics": "statistics.json", "clinical": "clinical.json",
                                    "preview": f"preview_{task_name}.png"}[name]
        return paths


class ModelGridCapture:
    """Keeps the model-grid image and labels the engine hands to ``on_model_grid``."""

    def __init__(self) -> None:
        self.image: Volume | None = None
        self.labels: LabelVolume | None = None

    def __call__(self, image: Volume, labels: LabelVolume) -> None:
        self.image, self.labels = image, labels


def write_reports(image: Volume, labels: LabelVolume, classes: Mapping[int, str], options: MeasureOptions,
                  targets: Mapping[str, Path], *, modality: str = "ct",
                  model_grid: ModelGridCapture | None = None, title: str | None = None) -> dict[str, Path]:
    """Compute and write each report in ``targets``; returns what was written."""
    # Each report's module is imported when it is asked for (the preview's drawing stack alone
    # takes 0.1 s to import).
    written = {}
    if "statistics" in targets:
        from totalseg.measure.statistics import compute_statistics, write_statistics

        on_grid = options.fast and model_grid is not None and model_grid.image is not None
        stats_image, stats_labels = (model_grid.image, model_grid.labels) if on_grid else (image, labels)
        stats = compute_statistics(stats_image, stats_labels, classes, include_incomplete=options.include_incomplete,
                                   extra=options.statistics_extra, aggregation=options.aggregation)
        written["statistics"] = write_statistics(stats, targets["statistics"])
    if "clinical" in targets:
        from totalseg.measure.clinical import clinical_measurements, write_clinical

        result = clinical_measurements(image, labels, classes, modality=modality)
        written["clinical"] = write_clinical(result, targets["clinical"])
    if "preview" in targets:
        from totalseg.measure.preview import render_preview

        written["preview"] = render_preview(image, labels, classes, targets["preview"], modality=modality, title=title)
    return written
