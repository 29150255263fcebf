"""nnU-Net's preprocessing for inference, on arrays, in nnU-Net's order of operations.

The image arrives as the model's reader hands it to nnU-Net: (Z, Y, X), the reverse of the stored
axes (see :mod:`totalseg.models.readers`), with its spacing in the same order. Then, as nnU-Net's
``DefaultPreprocessor.run_case_npy``: ``transpose_forward``, crop to the bounding box of the
non-zero region, normalize, and resample to the plans spacing (a no-op for the official tasks,
which resample the image themselves first). Reductions (the z-score mean/std) run on an array with
the same shape and memory layout as nnU-Net's, so the float sums are bit-identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import binary_fill_holes

from totalseg.engine.resampling import new_shape, resample
from totalseg.errors import WeightsError
from totalseg.imaging.layout import c_contiguous
from totalseg.limits import check_grid_size
from totalseg.models.plans import ModelConfig


@dataclass(frozen=True)
class Preprocessed:
    """The network input and what is needed to put its labels back on the reader's grid."""

    data: torch.Tensor  # (1, *network grid) float32, nnU-Net array order
    bbox: tuple[slice, ...]  # the non-zero crop inside the transposed array
    shape: tuple[int, ...]  # transposed array shape before the crop
    cropped_shape: tuple[int, ...]  # after the crop, before resampling to the plans spacing
    spacing: tuple[float, ...]  # of the transposed array, before resampling

    @property
    def resampled(self) -> bool:
        """Whether the network grid differs from the cropped image's (logits must be resampled back)."""
        return tuple(self.data.shape[1:]) != self.cropped_shape


def preprocess(image: np.ndarray, spacing: Sequence[float], config: ModelConfig) -> Preprocessed:
    """Turn an image in the reader's (Z, Y, X) order, of ``spacing`` mm, into the network input."""
    data = c_contiguous(image, np.float32)[None]  # the C-ordered float32 array nnU-Net's reader returns
    data = data.transpose([0, *[i + 1 for i in config.transpose_forward]])
    spacing = tuple(float(spacing[i]) for i in config.transpose_forward)
    shape = data.shape[1:]
    nonzero = data[0] != 0
    bbox = _bbox(nonzero)
    cropped = data[(slice(None), *bbox)]
    mask = binary_fill_holes(nonzero)[bbox][None] if config.use_mask_for_norm else None
    check_grid_size("the image", cropped.shape[1:], spacing, config.spacing)
    normalized = _normalize(cropped, mask, config)
    target = new_shape(cropped.shape[1:], spacing, config.spacing)
    resampled = resample(normalized, target, spacing, config.spacing, config.data_resampling)
    tensor = torch.from_numpy(resampled).to(dtype=torch.float32, memory_format=torch.contiguous_format)
    return Preprocessed(tensor, bbox, tuple(shape), tuple(cropped.shape[1:]), spacing)


def logits_to_labels(logits: np.ndarray, pre: Preprocessed, config: ModelConfig, *,
                     cropped: bool = False) -> np.ndarray:
    """nnU-Net's export: logits (C, *network grid) resampled to the cropped grid, then arg-maxed.

    The logits keep their dtype through the resampling (fp16 from the predictor), as nnU-Net's do.
    ``cropped``: the official ``--higher_order_resampling`` export (``engine.cropped_export``).
    """
    if cropped:
        from totalseg.engine.cropped_export import cropped_logits_to_labels

        return cropped_logits_to_labels(logits, pre.cropped_shape, lambda background: resample(
            background, pre.cropped_shape, config.spacing, pre.spacing, config.logits_resampling))
    back = resample(logits, pre.cropped_shape, config.spacing, pre.spacing, config.logits_resampling)
    return back.argmax(0).astype(np.uint8 if back.shape[0] <= 255 else np.uint16)


def restore(labels: np.ndarray, pre: Preprocessed, config: ModelConfig) -> np.ndarray:
    """Labels of the cropped image back to the reader's full (Z, Y, X) grid (C-ordered)."""
    full = np.zeros(pre.shape, dtype=labels.dtype)
    full[pre.bbox] = labels
    return c_contiguous(full.transpose(config.transpose_backward))


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
