"""``--higher_order_resampling_LEGACY``: labels back to the input grid one label at a time, as the
official ``resample_one_hot_crop`` does.

Each label present is cut out with a margin of ``max(2, order + 1)`` voxels, as a float32 mask,
resampled with ``map_coordinates`` (pixel-centre-aligned coordinates, ``mode="nearest"``) into
its box on the new grid, and written where the result is at least 0.5; labels in ascending order,
a later one winning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import map_coordinates


def one_hot_crop_resample(labels: np.ndarray, new_shape: Sequence[int], *, order: int = 1) -> np.ndarray:
    """``labels`` (3-D) on ``new_shape``, label by label in its box (same dtype).

    Examples:
        >>> seg = np.zeros((4, 4, 4), np.uint8); seg[1:3, 1:3, 1:3] = 7
        >>> out = one_hot_crop_resample(seg, (8, 8, 8))
        >>> int(out.max()), int((out == 7).sum())
        (7, 56)
    """
    old_shape = np.array(labels.shape)
    new_shape = np.array(new_shape).astype(int)
    scale = new_shape / old_shape
    out = np.zeros(new_shape, dtype=labels.dtype)
    margin = max(2, order + 1)
    for label in np.unique(labels):
        if label == 0:
            continue
        hits = np.where(labels == label)
        start = np.maximum(np.array([axis.min() for axis in hits]) - margin, 0)
        end = np.minimum(np.array([axis.max() + 1 for axis in hits]) + margin, old_shape)
        target_start = np.maximum(np.floor(start * scale).astype(int), 0)
        target_end = np.minimum(np.ceil(end * scale).astype(int), new_shape)
        if np.any(target_end - target_start <= 0):
            continue
        crop = (labels[tuple(slice(a, b) for a, b in zip(start, end))] == label).astype(np.float32)
        axes = [(np.arange(a, b) + 0.5) * old / new - 0.5 - offset
                for a, b, old, new, offset in zip(target_start, target_end, old_shape, new_shape, start)]
        mask = map_coordinates(crop, np.array(np.meshgrid(*axes, indexing="ij")), order=order, mode="nearest",
                               cval=0) >= 0.5
        out[tuple(slice(a, b) for a, b in zip(target_start, target_end))][mask] = label
    return out
