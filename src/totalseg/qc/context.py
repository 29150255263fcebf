"""What every check receives: the case, measured once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.qc.structures import Structure, summarize


@dataclass(frozen=True)
class QcContext:
    """The image, its labels on the same grid, label id -> name, each present structure's summary,
    and the modality (``ct`` or ``mr``)."""

    image: Volume
    labels: LabelVolume
    classes: dict[int, str]
    structures: dict[str, Structure]
    modality: str

    @classmethod
    def build(cls, image: Volume, labels: LabelVolume, classes: dict[int, str], modality: str) -> QcContext:
        """Measure the structures once.

        Examples:
            >>> vol = Volume(np.zeros((4, 4, 4)), affine=np.eye(4))
            >>> ctx = QcContext.build(vol, LabelVolume(np.zeros((4, 4, 4), np.uint8), affine=np.eye(4)), {}, "ct")
            >>> ctx.structures
            {}
        """
        return cls(image, labels, dict(classes), summarize(image, labels, classes), modality)

    @property
    def label_array(self) -> np.ndarray:
        return np.asarray(self.labels.array)

    def midline_x(self) -> float | None:
        """World x of the body's midline: the median of the spine's centroids, else None."""
        xs = [s.centroid_mm[0] for n, s in self.structures.items()
              if n.startswith("vertebrae_") or n in ("sacrum", "spinal_cord", "sternum")]
        return float(np.median(xs)) if xs else None
