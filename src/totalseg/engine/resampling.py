"""nnU-Net's own resampling: the image to the plans spacing before the network, logits back after.

This is ``resample_data_or_seg_to_shape`` of nnunetv2 (``preprocessing/resampling/
default_resampling.py``) for images and logits: ``skimage.transform.resize`` (mode ``edge``, no
anti-aliasing) in float64, or, where one axis is much coarser than the others ("separate z"),
2-D resizes of each slice followed by ``scipy.ndimage.map_coordinates`` along that axis (order 0
by default). The output keeps the input's dtype (float32 images, float16 logits), as nnU-Net's does.
The official TotalSegmentator tasks resample the image themselves first, so for them these steps
change nothing; models that leave resampling to nnU-Net (``--model-dir``, tasks with
``resample: None``) go through them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import map_coordinates

from totalseg.models.plans import Resampling


def new_shape(shape: Sequence[int], spacing: Sequence[float], target: Sequence[float]) -> tuple[int, ...]:
    """nnU-Net's ``compute_new_shape``: ``round(spacing / target * shape)`` per axis.

    Examples:
        >>> new_shape((10, 20, 30), (3.0, 1.0, 1.0), (1.5, 1.0, 2.0))
        (20, 20, 15)
    """
    return tuple(int(round(s / t * n)) for n, s, t in zip(shape, spacing, target))


def separate_axis(resampling: Resampling, spacing: Sequence[float], target: Sequence[float]) -> int | None:
    """The axis resampled on its own (nnU-Net's ``determine_do_sep_z_and_axis``), or None.

    The coarsest axis of the current spacing when it is anisotropic (max / min above the
    threshold), else of the target spacing; None where two or three axes tie for coarsest.

    Examples:
        >>> separate_axis(Resampling(force_separate_z=None), (5.0, 0.8, 0.8), (1.0, 1.0, 1.0))
        0
        >>> separate_axis(Resampling(force_separate_z=None), (1.0, 1.0, 1.0), (1.5, 1.5, 1.5)) is None
        True
    """
    if resampling.force_separate_z is not None:
        axes = _coarsest(spacing) if resampling.force_separate_z else None
    elif _anisotropic(spacing, resampling.anisotropy_threshold):
        axes = _coarsest(spacing)
    elif _anisotropic(target, resampling.anisotropy_threshold):
        axes = _coarsest(target)
    else:
        axes = None
    return int(axes[0]) if axes is not None and len(axes) == 1 else None


def resample(data: np.ndarray, shape: Sequence[int], spacing: Sequence[float], target: Sequence[float],
             resampling: Resampling) -> np.ndarray:
    """``data`` (C, *spatial) resampled to ``shape`` as nnU-Net does; returned as is when the shape
    does not change or the plans name ``no_resampling_hack``. The dtype is kept."""
    shape = tuple(int(n) for n in shape)
    if resampling.function == "no_resampling_hack" or tuple(data.shape[1:]) == shape:
        return data
    axis = separate_axis(resampling, spacing, target)
    out = np.zeros((data.shape[0], *shape), dtype=data.dtype)
    for c in range(data.shape[0]):
        channel = data[c].astype(float)
        if axis is None:
            out[c] = _resize(channel, shape, resampling.order)
        else:
            out[c] = _resample_separately(channel, shape, axis, resampling)
    return out


def resample_labels(labels: np.ndarray, shape: Sequence[int], spacing: Sequence[float], target: Sequence[float],
                    resampling: Resampling) -> np.ndarray:
    """A label map (spatial axes only) resampled to ``shape`` on nnU-Net's grid, for training data.

    As nnU-Net's ``resize_segmentation``: each label's indicator is resampled with the plans' order
    (separate-z rules included) and every voxel takes the label with the highest score; where scores
    tie exactly the lowest label wins (nnU-Net settles ties by the nearest neighbour). The grid is
    the one :func:`resample` puts the image on, so labels and image stay aligned.

    Examples:
        >>> resample_labels(np.array([[[0, 2], [2, 2]]]), (2, 4, 4), (2.0, 1.0, 1.0), (1.0, 0.5, 0.5),
        ...                 Resampling(order=1))[0].tolist()
        [[0, 0, 2, 2], [0, 0, 2, 2], [2, 2, 2, 2], [2, 2, 2, 2]]
    """
    shape = tuple(int(n) for n in shape)
    if tuple(labels.shape) == shape:
        return labels
    best = np.full(shape, -np.inf, dtype=np.float32)
    out = np.zeros(shape, dtype=labels.dtype)
    for value in np.unique(labels):
        score = resample((labels == value)[None].astype(np.float32), shape, spacing, target, resampling)[0]
        wins = score > best
        out[wins], best[wins] = value, score[wins]
    return out


def _resize(image: np.ndarray, shape: Sequence[int], order: int) -> np.ndarray:
    """nnU-Net's call of ``skimage.transform.resize`` (imported here: 0.4 s that most runs never need)."""
    from skimage.transform import resize

    return resize(image, shape, order, mode="edge", anti_aliasing=False)


def _resample_separately(channel: np.ndarray, shape: tuple[int, ...], axis: int, resampling: Resampling) -> np.ndarray:
    """In-plane resize of each slice along ``axis``, then ``order_z`` interpolation along it."""
    in_plane = tuple(n for a, n in enumerate(shape) if a != axis)
    stacked = list(shape)
    stacked[axis] = channel.shape[axis]
    slices = np.zeros(stacked)
    for index in range(channel.shape[axis]):
        where = (slice(None),) * axis + (index,)
        slices[where] = _resize(channel[where], in_plane, resampling.order)
    if channel.shape[axis] == shape[axis]:
        return slices
    # skimage's half-pixel grid (align_corners=False), as nnU-Net copies it
    grids = np.mgrid[tuple(slice(0, n) for n in shape)].astype(float)
    coords = np.array([(m / n) * (g + 0.5) - 0.5 for g, m, n in zip(grids, slices.shape, shape)])
    return map_coordinates(slices, coords, order=resampling.order_z, mode="nearest")


def _anisotropic(spacing: Sequence[float], threshold: float) -> bool:
    return bool(np.max(spacing) / np.min(spacing) > threshold)


def _coarsest(spacing: Sequence[float]) -> np.ndarray:
    return np.where(max(spacing) / np.array(spacing) == 1)[0]
