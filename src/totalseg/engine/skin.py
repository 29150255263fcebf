"""The ``body`` task's derived masks: ``body`` (trunk and extremities) and ``skin``.

Ports of TotalSegmentator 2.18.0's ``libs.combine_masks(..., "body")`` and
``postprocessing.extract_skin`` (same results bit for bit; ``tests/data/postprocess_golden`` holds
the official outputs). The official tool writes both, as extra files, when the ``body`` task runs
without ``--ml``: from the final masks at the input image's grid and the input image itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from scipy import ndimage

from totalseg.engine.postprocess import remove_small_blobs

BODY_PARTS = ("body_trunc", "body_extremities")
SKIN_HU = (-200.0, 250.0)  # open interval: a skin voxel is strictly inside
SKIN_DEPTH_VOXELS = 3  # erosion steps of the one-voxel-grown body
MIN_SKIN_BLOB_VOXELS = 5  # skin components of at most this many voxels are dropped


def combine_labels(labels: np.ndarray, ids: Iterable[int]) -> np.ndarray:
    """A uint8 mask, 1 where ``labels`` holds any of ``ids``: the official ``combine_masks``.

    Examples:
        >>> combine_labels(np.array([0, 1, 2, 3]), [1, 2]).tolist()
        [0, 1, 1, 0]
    """
    return np.isin(labels, list(ids)).astype(np.uint8)


def body_mask(labels: np.ndarray, class_map: Mapping[int, str]) -> np.ndarray:
    """The official ``body`` mask: ``body_trunc`` or ``body_extremities``, as uint8 0/1.

    Examples:
        >>> body_mask(np.array([0, 1, 2]), {1: "body_trunc", 2: "body_extremities"}).tolist()
        [0, 1, 1]
    """
    inverse = {name: label for label, name in class_map.items()}
    missing = [name for name in BODY_PARTS if name not in inverse]
    if missing:
        raise ValueError(f"the class map lacks {missing}; pass the body task's class map")
    return combine_labels(labels, [inverse[name] for name in BODY_PARTS])


def extract_skin(image_hu: np.ndarray, body: np.ndarray) -> np.ndarray:
    """The official ``skin`` mask (uint8 0/1) from a CT in HU and a body mask on the same grid.

    The body (any non-zero voxel) is grown by one voxel, the shell between that and its 3-voxel
    erosion is kept where -200 < HU < 250, and 6-connected pieces of at most 5 voxels are dropped.
    All steps use the 6-neighbourhood in voxels; the voxel size plays no part. The erosion counts
    outside the image as background, so the shell also runs along the image's faces. Pass the HU
    as read (the official tool compares nibabel's float64 ``get_fdata()``).

    Examples:
        >>> body = np.zeros((9, 9, 9), np.uint8); body[1:8, 1:8, 1:8] = 1
        >>> skin = extract_skin(np.zeros(body.shape), body)
        >>> int(skin.sum()), int(skin[4, 4, 4]), int(skin[1, 4, 4])
        (610, 0, 1)
    """
    if image_hu.shape != body.shape:
        raise ValueError(f"an image of shape {image_hu.shape} and a body mask of shape {body.shape}: "
                         "both must be on the input image's grid")
    grown = ndimage.binary_dilation(body)
    inner = ndimage.binary_erosion(grown, iterations=SKIN_DEPTH_VOXELS)
    low, high = SKIN_HU
    shell = grown & ~inner & (image_hu > low) & (image_hu < high)
    return remove_small_blobs(shell, min_voxels=MIN_SKIN_BLOB_VOXELS).astype(np.uint8)
