"""Per-structure volume and intensity: ``statistics.json`` exactly as the official tool writes it.

The official 2.18.0 computation (``totalsegmentator/statistics.py``), which this module reproduces
value for value:

- the image is ``get_fdata().astype(np.int16)``: scaled values truncated towards zero;
- the voxel volume is the float32 product of the three header zooms, and ``volume`` (mm3) is the
  voxel count times it (a float64);
- ``intensity`` is the mean of the int16 image over the mask (``np.average`` with the mask as
  weights, exact because every partial sum is an integer), rounded to 5 decimals; 0.0 for an
  empty mask; with ``aggregation="median"`` the median instead;
- a structure with a voxel within 3 voxels of any image border may be cut off by the field of
  view: it gets ``volume`` 0.0 and ``intensity`` 0.0 unless ``include_incomplete``;
- structures come in class-map order.

``extra=True`` adds the official ``--statistics_extra`` keys (``n_voxels``, ``intensity_std``,
``intensity_min``, ``intensity_max``, ``centroid_vox``, ``bbox_vox``) and ours after them:
``intensity_median``, ``centroid_mm`` and ``bbox_mm`` (world RAS+ coordinates of voxel centres).

Instead of one full-volume comparison per class (117 passes), each structure is measured inside
its bounding box from one ``ndimage.find_objects`` pass; the voxels are visited in the same order,
so even the float reductions (``np.std``) see the same sequence.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from totalseg.errors import InputError
from totalseg.imaging.volume import Volume
from totalseg.measure.files import write_json

BORDER_VOXELS = 3
AGGREGATIONS = ("mean", "median")

Stats = dict[str, dict[str, Any]]


def compute_statistics(
    image: Volume,
    labels: Volume,
    classes: Mapping[int, str],
    *,
    include_incomplete: bool = False,
    extra: bool = False,
    aggregation: str = "mean",
) -> Stats:
    """Volume (mm3) and intensity of each structure of ``classes``, in their order.

    Args:
        image: the image the statistics describe (its header zooms give the voxel volume).
        labels: label ids on the grid of ``image``.
        classes: label id -> structure name, e.g. ``class_map("total")`` or a ROI subset of it.
        include_incomplete: also measure structures within 3 voxels of the image border.
        extra: add voxel count, intensity std/min/max/median, centroid and bounding box.
        aggregation: ``mean`` (official default) or ``median`` intensity.

    Returns:
        ``{name: {"volume": mm3, "intensity": HU, ...}}``, JSON-ready Python numbers.

    Examples:
        >>> import numpy as np
        >>> from totalseg.imaging.volume import LabelVolume
        >>> img = Volume(np.full((10, 10, 10), 40, np.int16), affine=np.diag([2.0, 2.0, 2.0, 1.0]))
        >>> lab = np.zeros((10, 10, 10), np.uint8); lab[4:6, 4:6, 4:6] = 1
        >>> compute_statistics(img, LabelVolume(lab, affine=img.affine), {1: "liver"})
        {'liver': {'volume': 64.0, 'intensity': 40.0}}
    """
    if image.shape != labels.shape:
        raise InputError(f"image {image.shape} and labels {labels.shape} differ in shape; "
                         "pass labels on the image grid")
    if aggregation not in AGGREGATIONS:
        raise InputError(f"statistics aggregation must be one of {', '.join(AGGREGATIONS)}, got {aggregation!r}")
    ct = image_as_int16(image.array)
    voxel_mm3 = voxel_volume_mm3(image)
    ids = [k for k in classes if k > 0]
    boxes = ndimage.find_objects(np.asarray(labels.array), max_label=max(ids)) if ids else []
    stats: Stats = {}
    for class_id, name in classes.items():
        box = boxes[class_id - 1] if 0 < class_id <= len(boxes) else None
        if box is not None and not include_incomplete and touches_border(box, labels.shape):
            entry: dict[str, Any] = {"volume": 0.0, "intensity": 0.0}
            if extra:
                entry.update(_empty_extra())
        else:
            entry = _measure(ct, labels, class_id, box, voxel_mm3, aggregation, extra)
        stats[name] = entry
    return stats


def write_statistics(stats: Stats, path: str | os.PathLike) -> Path:
    """Write ``stats`` as the official tool does (``json.dump(stats, f, indent=4)``), atomically."""
    return write_json(stats, path, indent=4)


def image_as_int16(array: np.ndarray) -> np.ndarray:
    """``array.astype(float64).astype(int16)``, the official cast, one slice at a time.

    Examples:
        >>> image_as_int16(np.array([[[-3.7, 2.9, 40000.0]]])).tolist()
        [[[-3, 2, -25536]]]
    """
    if array.dtype in (np.int16, np.int8, np.uint8, np.bool_):
        return array.astype(np.int16, copy=False)
    out = np.empty(array.shape, dtype=np.int16)
    with np.errstate(invalid="ignore"):  # out-of-range values wrap as in the official cast
        for z in range(array.shape[2]):
            out[:, :, z] = np.asarray(array[:, :, z], dtype=np.float64).astype(np.int16)
    return out


def voxel_volume_mm3(image: Volume) -> np.float32:
    """The float32 product of the header zooms (from the affine when there is no header)."""
    z0, z1, z2 = (np.float32(z) for z in image.header_zooms_mm)
    return z0 * z1 * z2


def touches_border(box: tuple[slice, ...], shape: tuple[int, ...], margin: int = BORDER_VOXELS) -> bool:
    """Whether a bounding box reaches within ``margin`` voxels of an image border (official rule)."""
    return any(s.start < margin or s.stop - 1 >= n - margin for s, n in zip(box, shape))


def _measure(ct, labels, class_id, box, voxel_mm3, aggregation, extra) -> dict[str, Any]:
    if box is None:
        entry: dict[str, Any] = {"volume": float(np.int64(0) * voxel_mm3), "intensity": 0.0}
        if extra:
            entry.update(_empty_extra())
        return entry
    mask = np.asarray(labels.array[box]) == class_id
    values = ct[box][mask]
    count = np.int64(values.size)
    if aggregation == "mean":
        intensity = (np.float64(values.sum(dtype=np.int64)) / np.float64(count)).round(5)
    else:
        intensity = np.median(values).round(5)
    entry = {"volume": float(count * voxel_mm3), "intensity": float(intensity)}
    if extra:
        entry.update(_extra(values, mask, box, labels.affine))
    return entry


def _empty_extra() -> dict[str, Any]:
    return {
        "n_voxels": 0, "intensity_std": 0.0, "intensity_min": 0.0, "intensity_max": 0.0,
        "centroid_vox": None, "bbox_vox": None,
        "intensity_median": 0.0, "centroid_mm": None, "bbox_mm": None,
    }


def _extra(values: np.ndarray, mask: np.ndarray, box: tuple[slice, ...], affine: np.ndarray) -> dict[str, Any]:
    offset = np.array([s.start for s in box], dtype=np.int64)
    index = np.argwhere(mask) + offset
    centroid = index.mean(axis=0)
    low, high = offset, np.array([s.stop - 1 for s in box], dtype=np.int64)
    corners = np.array([[(high if bit else low)[a] for a, bit in enumerate(bits)]
                        for bits in np.ndindex(2, 2, 2)], dtype=np.float64)
    world = corners @ affine[:3, :3].T + affine[:3, 3]
    return {
        "n_voxels": int(values.size),
        "intensity_std": float(np.std(values).round(5)),
        "intensity_min": float(values.min()),
        "intensity_max": float(values.max()),
        "centroid_vox": [round(float(c), 2) for c in centroid],
        "bbox_vox": [[int(lo), int(hi)] for lo, hi in zip(low, high)],
        "intensity_median": float(np.median(values).round(5)),
        "centroid_mm": [round(float(c), 2) for c in affine[:3, :3] @ centroid + affine[:3, 3]],
        "bbox_mm": [[round(float(world[:, a].min()), 2), round(float(world[:, a].max()), 2)] for a in range(3)],
    }
