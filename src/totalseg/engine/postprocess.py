"""Connected-component clean-ups the official tool applies to some tasks' label maps.

Ports of TotalSegmentator 2.18.0's ``postprocessing.py`` (same results bit for bit; the golden
cases in ``tests/data/postprocess_golden`` hold the official outputs). Vertebrae and skin have
their own modules: :mod:`totalseg.engine.vertebrae`, :mod:`totalseg.engine.skin`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import ndimage


def keep_largest_blob(mask: np.ndarray) -> np.ndarray:
    """Only the largest connected component (6-connectivity) of a binary mask.

    Examples:
        >>> m = np.zeros((5, 5, 5), bool); m[0, 0, 0] = True; m[2:4, 2:4, 2:4] = True
        >>> int(keep_largest_blob(m).sum())
        8
    """
    blobs, count = ndimage.label(mask)
    if count == 0:
        return mask.astype(bool)
    sizes = np.bincount(blobs.ravel())[1:]
    return blobs == int(np.argmax(sizes)) + 1


def remove_small_blobs(mask: np.ndarray, *, min_voxels: float) -> np.ndarray:
    """A binary mask without the components of at most ``min_voxels`` voxels."""
    blobs, count = ndimage.label(mask)
    if count == 0:
        return mask.astype(bool)
    sizes = np.bincount(blobs.ravel())
    keep = sizes > min_voxels
    keep[0] = False
    return keep[blobs]


def keep_largest_blob_per_label(labels: np.ndarray, ids: Iterable[int]) -> np.ndarray:
    """A label map where each label of ``ids`` keeps only its largest 6-connected component.

    The official ``keep_largest_blob_multilabel`` (given class names there, label ids here). Labels
    not in ``ids`` are untouched; a tie between equal components keeps the lower component number
    (the first met in C order). Returns a new uint8 array.

    Examples:
        >>> m = np.zeros((1, 1, 6), np.uint8); m[0, 0, [0, 2, 3]] = 1; m[0, 0, 5] = 2
        >>> keep_largest_blob_per_label(m, [1, 2])[0, 0].tolist()
        [0, 0, 1, 1, 0, 2]
    """
    out = labels.astype(np.uint8)
    for label in ids:
        region = out == label
        out[region] = 0
        out[keep_largest_blob(region)] = label
    return out


def remove_small_blobs_per_label(labels: np.ndarray, ids: Iterable[int], *, min_voxels: float) -> np.ndarray:
    """A label map where each label of ``ids`` loses its 6-connected components of at most ``min_voxels``.

    The official ``remove_small_blobs_multilabel`` with ``interval=[min_voxels, 1e10]`` (it also drops
    components above 1e10 voxels, which no image has). The official threshold is ``mm3 / voxel
    volume`` with the voxel volume a float32 (see :func:`totalseg.engine.vertebrae.voxel_volume_mm3`);
    pass it as computed, a float32 stays a float32 in the comparison. Returns a new uint8 array.

    Examples:
        >>> m = np.zeros((1, 1, 7), np.uint8); m[0, 0, [0, 2, 3, 4]] = 1; m[0, 0, 6] = 2
        >>> remove_small_blobs_per_label(m, [1, 2], min_voxels=1)[0, 0].tolist()
        [0, 0, 1, 1, 1, 0, 0]
    """
    out = labels.astype(np.uint8)
    for label in ids:
        region = out == label
        out[region] = 0
        out[remove_small_blobs(region, min_voxels=min_voxels)] = label
    return out


def remove_labels(labels: np.ndarray, ids: Iterable[int]) -> np.ndarray:
    """``labels`` with the labels of ``ids`` set to 0 (background), as uint8.

    The official ``remove_auxiliary_labels``: a task whose class map has a ``<task>_auxiliary``
    twin (``appendicular_bones``: 12-15) predicts helper classes that are dropped right after the
    prediction; for other tasks pass no ids. Label values must fit uint8.

    Examples:
        >>> remove_labels(np.array([0, 3, 12, 15, 11]), [12, 13, 14, 15]).tolist()
        [0, 3, 0, 0, 11]
    """
    return np.where(np.isin(labels, list(ids)), 0, labels).astype(np.uint8)


def outside_dilation_voxels(dilation_mm: float, spacing_mm: Sequence[float]) -> int:
    """The official margin, in voxels, of ``remove_outside_of_mask``: ``dilation_mm`` / mean voxel size.

    The voxel sizes are the input image's header zooms, float32; the mean and the division are float32
    and the result is truncated toward zero (so a margin below one voxel size gives 0, which
    :func:`remove_outside_of_mask` reads as "no removal unless the mask is empty").

    Examples:
        >>> outside_dilation_voxels(10, (0.8, 0.8, 2.5))  # 10 / 1.3667 = 7.3
        7
        >>> outside_dilation_voxels(10, (1.5, 1.5, 1.5)), outside_dilation_voxels(1, (1.5, 1.5, 1.5))
        (6, 0)
    """
    return int(dilation_mm / np.mean(np.asarray(spacing_mm, dtype=np.float32)))


def remove_outside_of_mask(labels: np.ndarray, mask: np.ndarray, *, dilation_voxels: int) -> np.ndarray:
    """``labels`` set to 0 outside ``mask`` grown by ``dilation_voxels`` 6-neighbourhood steps, as uint8.

    The official ``remove_outside_of_mask`` (``scipy.ndimage.binary_dilation(mask,
    iterations=addon)``; any non-zero ``mask`` value is inside). Like scipy, ``dilation_voxels < 1``
    means "grow until nothing changes", which covers the whole image when ``mask`` has a voxel: then
    nothing is removed, and everything is when ``mask`` is empty. ``labels`` and ``mask`` share one grid.

    Examples:
        >>> seg = np.array([[[1, 2, 3, 4, 5]]]); mask = np.array([[[0, 1, 0, 0, 0]]])
        >>> remove_outside_of_mask(seg, mask, dilation_voxels=1).tolist()
        [[[1, 2, 3, 0, 0]]]
        >>> remove_outside_of_mask(seg, mask, dilation_voxels=0).tolist()
        [[[1, 2, 3, 4, 5]]]
    """
    if labels.shape != mask.shape:
        raise ValueError(f"labels of shape {labels.shape} and a mask of shape {mask.shape}: "
                         "resample the mask to the labels' grid first")
    if dilation_voxels < 1:
        inside = np.full(mask.shape, bool(np.any(mask)))
    else:
        inside = ndimage.binary_dilation(mask, iterations=dilation_voxels)
    return np.where(inside, labels, 0).astype(np.uint8)
