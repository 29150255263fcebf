"""nnU-Net's preprocessing for inference, on arrays: axis order, crop to non-zero, normalization.

The image arrives on the model's grid in canonical (X, Y, Z) order, as the official tool hands it
to nnU-Net. nnU-Net reads it with the plans' image reader (SimpleITK reverses the axes), crops to
the bounding box of the non-zero region and normalizes. Reductions (the z-score mean/std) run on
an array with the same shape and memory layout as nnU-Net's, so the float sums are bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import binary_fill_holes

from totalseg.errors import WeightsError
from totalseg.imaging.layout import c_contiguous
from totalseg.models.plans import ModelConfig

# Readers that hand nnU-Net the voxel array in reversed (Z, Y, X) order.
_REVERSING_READERS = ("SimpleITKIO", "SimpleITKIOWithReorient")


@dataclass(frozen=True)
class Preprocessed:
    """The network input and what is needed to put its labels back on the (X, Y, Z) grid."""

    data: torch.Tensor  # (1, *cropped) float32, nnU-Net array order
    bbox: tuple[slice, ...]  # the non-zero crop inside the uncropped array
    shape: tuple[int, ...]  # nnU-Net array shape before the crop


def preprocess(array_xyz: np.ndarray, config: ModelConfig) -> Preprocessed:
    """Turn a canonical (X, Y, Z) image on the model grid into the network input."""
    data = _to_network_order(array_xyz, config)
    shape = data.shape[1:]
    nonzero = data[0] != 0
    bbox = _bbox(nonzero)
    cropped = data[(slice(None), *bbox)]
    mask = binary_fill_holes(nonzero)[bbox][None] if config.use_mask_for_norm else None
    normalized = _normalize(cropped, mask, config)
    tensor = torch.from_numpy(normalized).to(dtype=torch.float32, memory_format=torch.contiguous_format)
    return Preprocessed(tensor, bbox, tuple(shape))


def restore(labels: np.ndarray, pre: Preprocessed, config: ModelConfig) -> np.ndarray:
    """Labels of the cropped network input back to the full (X, Y, Z) grid."""
    full = np.zeros(pre.shape, dtype=labels.dtype)
    full[pre.bbox] = labels
    return c_contiguous(reader_order(full.transpose(config.transpose_backward), config))  # (2, 1, 0) undoes itself


def reader_order(array_xyz: np.ndarray, config: ModelConfig) -> np.ndarray:
    """``array_xyz`` in the axis order the model's image reader gives nnU-Net (a view).

    Examples:
        >>> from types import SimpleNamespace
        >>> reader_order(np.zeros((4, 5, 6)), SimpleNamespace(image_reader="SimpleITKIO")).shape
        (6, 5, 4)
    """
    return array_xyz.transpose(2, 1, 0) if config.image_reader in _REVERSING_READERS else array_xyz


def _to_network_order(array_xyz: np.ndarray, config: ModelConfig) -> np.ndarray:
    # C-contiguous float32 with a channel axis: the array nnU-Net's reader returns.
    data = c_contiguous(reader_order(array_xyz, config), np.float32)[None]
    return data.transpose([0, *[i + 1 for i in config.transpose_forward]])


def _bbox(mask: np.ndarray) -> tuple[slice, ...]:
    """Bounding box of ``mask`` (the whole array when empty), as nnU-Net's get_bbox_from_mask.

    Filling holes never moves a bounding box, so the unfilled mask gives the same box.
    """
    box = []
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=others))
        box.append(slice(int(hits[0]), int(hits[-1]) + 1) if hits.size else slice(0, mask.shape[axis]))
    return tuple(box)


def _normalize(image: np.ndarray, mask: np.ndarray | None, config: ModelConfig) -> np.ndarray:
    scheme = config.normalization
    if scheme == "CTNormalization":
        props = config.intensity
        if props is None:
            raise WeightsError("plans use CTNormalization but hold no foreground intensity properties")
        np.clip(image, props.percentile_00_5, props.percentile_99_5, out=image)
        image -= props.mean
        image /= max(props.std, 1e-8)
        return image
    if scheme == "ZScoreNormalization":
        return _zscore(image, mask)
    if scheme == "NoNormalization":
        return image
    if scheme == "RescaleTo01Normalization":
        image -= image.min()
        image /= np.clip(image.max(), a_min=1e-8, a_max=None)
        return image
    raise WeightsError(f"plans use the normalization {scheme!r}, which totalseg does not support")


def _zscore(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    if mask is not None:
        mean = image[mask].mean()
        std = image[mask].std()
        image[mask] = (image[mask] - mean) / max(std, 1e-8)
        return image
    mean = image.mean()
    std = image.std()
    return (image - mean) / max(std, 1e-8)
