"""Dice and normalized surface Dice on binary masks and on whole label maps.

NaN rules of the reference evaluation: a class absent from the ground truth gives NaN (it is
skipped in means); a class present in the ground truth but not predicted gives 0.

Surfaces are the border voxels of a mask (voxels with a 6-neighbour outside it, the image edge
counting as outside). NSD at tolerance ``t`` is the fraction of border voxels of either mask that
lie within ``t`` mm of the other mask's border, distances taken with the voxel spacing
(``scipy.ndimage.distance_transform_edt(sampling=spacing)``). Every class is measured inside the
bounding box of its two masks (plus one voxel), so the cost follows the structure, not the image.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import ndimage

_SIX_NEIGHBOURS = ndimage.generate_binary_structure(3, 1)


def dice(gt: np.ndarray, pred: np.ndarray) -> float:
    """Dice ``2|A∩B| / (|A|+|B|)`` of two binary masks; NaN when ``gt`` is empty.

    Examples:
        >>> a = np.zeros((4, 4, 4), bool); a[:2] = True
        >>> b = np.zeros((4, 4, 4), bool); b[1:3] = True
        >>> dice(a, b)
        0.5
    """
    gt, pred = np.asarray(gt, bool), np.asarray(pred, bool)
    return _dice(int(np.count_nonzero(gt & pred)), int(np.count_nonzero(gt)), int(np.count_nonzero(pred)))


def normalized_surface_dice(
    gt: np.ndarray, pred: np.ndarray, *, spacing_mm: Sequence[float], tolerance_mm: float = 3.0
) -> float:
    """Normalized surface Dice of two binary masks at ``tolerance_mm``; NaN when ``gt`` is empty.

    Examples:
        >>> a = np.zeros((8, 8, 8), bool); a[2:6, 2:6, 2:6] = True
        >>> normalized_surface_dice(a, np.roll(a, 1, axis=0), spacing_mm=(1, 1, 1), tolerance_mm=1.0)
        1.0
    """
    gt, pred = np.asarray(gt, bool), np.asarray(pred, bool)
    if not gt.any():
        return float("nan")
    if not pred.any():
        return 0.0
    box = _union_box(ndimage.find_objects(gt.astype(np.uint8))[0], ndimage.find_objects(pred.astype(np.uint8))[0])
    return _nsd_in_box(gt[box], pred[box], np.asarray(spacing_mm, float), tolerance_mm)


def label_metrics(
    gt: np.ndarray,
    pred: np.ndarray,
    *,
    class_ids: Iterable[int],
    spacing_mm: Sequence[float],
    tolerance_mm: float = 3.0,
) -> dict[int, tuple[float, float]]:
    """``{class id: (dice, nsd)}`` for two integer label maps of one subject.

    One pass over the volume counts every class's overlap (a joint histogram); the surface distances
    of each class are computed inside that class's bounding box only.

    Examples:
        >>> gt = np.zeros((6, 6, 6), np.uint8); gt[1:3] = 1; gt[3:5] = 2
        >>> label_metrics(gt, gt, class_ids=[1, 2, 3], spacing_mm=(1, 1, 1))
        {1: (1.0, 1.0), 2: (1.0, 1.0), 3: (nan, nan)}
    """
    if gt.shape != pred.shape:
        raise ValueError(f"label maps differ in shape: {gt.shape} vs {pred.shape}")
    ids = [int(i) for i in class_ids]
    n = int(max([int(gt.max(initial=0)), int(pred.max(initial=0)), *ids])) + 1
    joint = np.bincount(gt.astype(np.int64).ravel() * n + pred.ravel(), minlength=n * n).reshape(n, n)
    gt_boxes, pred_boxes = ndimage.find_objects(gt, max_label=n - 1), ndimage.find_objects(pred, max_label=n - 1)
    spacing = np.asarray(spacing_mm, float)
    result = {}
    for c in ids:
        size_gt, size_pred = int(joint[c].sum()), int(joint[:, c].sum())
        d = _dice(int(joint[c, c]), size_gt, size_pred)
        if size_gt == 0 or size_pred == 0:
            result[c] = (d, d)
            continue
        box = _union_box(gt_boxes[c - 1], pred_boxes[c - 1])
        result[c] = (d, _nsd_in_box(gt[box] == c, pred[box] == c, spacing, tolerance_mm))
    return result


def _dice(intersection: int, size_gt: int, size_pred: int) -> float:
    if size_gt == 0:
        return float("nan")
    return 2.0 * intersection / (size_gt + size_pred)


def _union_box(a: tuple[slice, ...], b: tuple[slice, ...]) -> tuple[slice, ...]:
    return tuple(slice(min(s.start, t.start), max(s.stop, t.stop)) for s, t in zip(a, b))


def _nsd_in_box(gt: np.ndarray, pred: np.ndarray, spacing: np.ndarray, tolerance_mm: float) -> float:
    # One voxel of background around the box: the borders and distances inside it are then those
    # of the whole image (every voxel of both masks is inside the box).
    gt, pred = np.pad(gt, 1), np.pad(pred, 1)
    border_gt, border_pred = _border(gt), _border(pred)
    dist_to_pred = ndimage.distance_transform_edt(~border_pred, sampling=spacing)
    dist_to_gt = ndimage.distance_transform_edt(~border_gt, sampling=spacing)
    close = np.count_nonzero(dist_to_pred[border_gt] <= tolerance_mm) + np.count_nonzero(
        dist_to_gt[border_pred] <= tolerance_mm
    )
    return float(close / (np.count_nonzero(border_gt) + np.count_nonzero(border_pred)))


def _border(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask, structure=_SIX_NEIGHBOURS, border_value=0)
