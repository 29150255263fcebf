"""The official ``--higher_order_resampling`` export: logits back to the image grid, class by class
in boxes, as TotalSegmentator 2.18.0 patches nnU-Net's export (``use_cropped_logits_resampling``).

nnU-Net resamples every class's logits to the image grid and then takes the argmax. The patched
export resamples only the background channel whole (with the plans' resampling), and each class
present in the low-resolution argmax only inside its bounding box (plus 3 voxels), linearly, with
pixel-centre-aligned coordinates; a class takes a voxel where its resampled logit beats the best
score so far, which is kept in the logits' dtype. The arithmetic follows the official code step by
step (float32 coordinates, float64 interpolation, scores rounded to the logits' dtype on update).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.ndimage import map_coordinates

BOX_MARGIN = 3


def cropped_logits_to_labels(logits: np.ndarray, new_shape: Sequence[int],
                             resample_background: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Labels on ``new_shape`` from ``logits`` (C, *grid), the official cropped export.

    ``resample_background`` takes the (1, *grid) background logits to (1, *new_shape) the way the
    plans resample logits.

    Examples:
        >>> logits = np.zeros((2, 2, 2, 2), np.float16); logits[1, 1] = 1.0
        >>> labels = cropped_logits_to_labels(logits, (4, 4, 4), lambda bg: np.zeros((1, 4, 4, 4), bg.dtype))
        >>> labels[:, 0, 0].tolist()
        [0, 1, 1, 1]
    """
    new_shape = np.array(new_shape).astype(int)
    dtype = np.uint8 if logits.shape[0] - 1 < 255 else np.uint16
    if np.array_equal(np.array(logits.shape[1:]), new_shape):
        return logits.argmax(0).astype(dtype)
    best = np.asarray(resample_background(logits[:1])[0])
    labels = np.zeros(new_shape, dtype=dtype)
    lowres = np.argmax(logits, axis=0)
    for label in np.unique(lowres):
        label = int(label)
        if label == 0 or label >= logits.shape[0]:
            continue
        box = _box(lowres == label, BOX_MARGIN)
        target, resampled = _resample_in_box(logits[label], new_shape, *box)
        if target is None:
            continue
        better = resampled > best[target]
        labels[target][better] = label
        best[target][better] = resampled[better]
    return labels


def _box(mask: np.ndarray, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of ``mask``'s bounding box grown by ``margin``, within the array."""
    hits = np.where(mask)
    shape = np.array(mask.shape)
    start = np.maximum(np.array([axis.min() for axis in hits]) - margin, 0)
    end = np.minimum(np.array([axis.max() + 1 for axis in hits]) + margin, shape)
    return start, end


def _resample_in_box(channel: np.ndarray, new_shape: np.ndarray, start: np.ndarray, end: np.ndarray):
    """The target slices of the box on the new grid and the channel linearly resampled there
    (``None, None`` when the box maps to nothing)."""
    old_shape = np.array(channel.shape)
    scale = new_shape / old_shape
    target_start = np.maximum(np.floor(start * scale).astype(int), 0)
    target_end = np.minimum(np.ceil(end * scale).astype(int), new_shape)
    if np.any(target_end <= target_start):
        return None, None
    crop = channel[tuple(slice(a, b) for a, b in zip(start, end))].astype(float, copy=False)
    axes = [(np.arange(a, b, dtype=np.float32) + 0.5) * old / new - 0.5 - offset
            for a, b, old, new, offset in zip(target_start, target_end, old_shape, new_shape, start)]
    coordinates = np.array(np.meshgrid(*axes, indexing="ij"), dtype=np.float32)
    resampled = map_coordinates(crop, coordinates, order=1, mode="nearest")
    return tuple(slice(a, b) for a, b in zip(target_start, target_end)), resampled
