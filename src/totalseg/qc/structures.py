"""What every check reads about each labelled structure, measured once per case in world (RAS) mm."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.measure.statistics import touches_border


@dataclass(frozen=True)
class Structure:
    """One label's summary: size, world centroid (x to the patient's left, y anterior, z head), the
    bounding box in voxels, whether it reaches the image border, and its mean intensity."""

    name: str
    label: int
    voxels: int
    volume_ml: float
    centroid_mm: tuple[float, float, float]
    box: tuple[slice, slice, slice]
    cut_off: bool
    mean_intensity: float

    def mask(self, labels: np.ndarray) -> np.ndarray:
        """The structure's boolean mask inside its bounding box."""
        return labels[self.box] == self.label


def summarize(image: Volume, labels: LabelVolume, classes: dict[int, str]) -> dict[str, Structure]:
    """Summaries of every class of ``classes`` with at least one voxel, by name.

    Examples:
        >>> lab = np.zeros((8, 8, 8), np.uint8); lab[3:5, 3:5, 3:5] = 1
        >>> img = Volume(np.full((8, 8, 8), 40.0), affine=np.diag([2.0, 2, 2, 1]))
        >>> s = summarize(img, LabelVolume(lab, affine=img.affine), {1: "liver"})["liver"]
        >>> s.volume_ml, s.centroid_mm, s.cut_off
        (0.064, (7.0, 7.0, 7.0), False)
    """
    array = np.asarray(labels.array)
    values = np.asarray(image.array, dtype=np.float32)
    voxel_ml = float(abs(np.linalg.det(labels.affine[:3, :3]))) / 1000.0
    boxes = ndimage.find_objects(array.astype(np.int32, copy=False)) if array.size else []
    found = {}
    for label, name in classes.items():
        if label < 1 or label > len(boxes) or boxes[label - 1] is None:
            continue
        box = boxes[label - 1]
        inside = array[box] == label
        idx = np.argwhere(inside).mean(axis=0) + [s.start for s in box]
        centroid = labels.affine[:3, :3] @ idx + labels.affine[:3, 3]
        n = int(inside.sum())
        found[name] = Structure(
            name, int(label), n, round(n * voxel_ml, 3), tuple(round(float(c), 2) for c in centroid), box,
            touches_border(box, array.shape), float(values[box][inside].mean()))
    return found


def world_axis_of_voxels(affine: np.ndarray) -> tuple[int, int, int]:
    """For world x, y, z: the voxel axis that runs most nearly along it.

    Examples:
        >>> world_axis_of_voxels(np.array([[0, 0, 3, 0], [2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 0, 1.0]]))
        (2, 0, 1)
    """
    directions = np.abs(affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0))
    return tuple(int(np.argmax(directions[w])) for w in range(3))  # type: ignore[return-value]
