"""Dice and normalized surface Dice on binary masks and on whole label maps.

NaN rules of the reference evaluation: a class absent from the ground truth gives NaN (it is
skipped in means); a class present in the ground truth but not predicted gives 0.

NSD is the surfel-weighted normalized surface Dice of DeepMind's ``surface-distance`` library
(``compute_surface_dice_at_tolerance``), the one the published TotalSegmentator numbers were measured
with: each mask's surface is split into surface elements whose areas come from the 2x2x2
neighbourhood of every voxel corner, and NSD at tolerance ``t`` is the area of both surfaces lying
within ``t`` mm of the other surface over the total area. Every class is measured inside the bounding
box of its two masks plus one voxel of background, so the cost follows the structure, not the image.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import ndimage


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
    # One voxel of background around the box: the surfaces and distances inside it are then those
    # of the whole image (every voxel of both masks is inside the box).
    # The library reaches scipy.ndimage through namespaces scipy deprecates: not the user's concern.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="surface_distance")
    import surface_distance

    distances = surface_distance.compute_surface_distances(np.pad(gt, 1), np.pad(pred, 1), tuple(spacing))
    return float(surface_distance.compute_surface_dice_at_tolerance(distances, tolerance_mm))
