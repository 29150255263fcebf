"""The input tensor of the official body-statistics networks (``totalsegmentator/cnn.py`` of
TotalSegmentator 2.18.0), built from the checkpoint's hyper-parameters.

The image goes to the closest canonical orientation, is zoomed to 2 mm voxels (linear, as the
official ``change_spacing``) and becomes float32. A 3-D model (``dim: 3``) gets the whole volume as
one channel, intensity-transformed, then centre-cropped or zero-padded to ``crop_size``. A 2-D model
gets slices as channels: ``nr_slices`` around the centre of one axis (``slice_orientation``) or of
all three (``multi_orientation``), or spread evenly (``sample_evenly``), each centre-cropped/padded
to ``crop_size``, then intensity-transformed and cropped again. The intensity transforms are the
validation ones of training: clipping, scaling to [-1, 1], and a global, per-channel or whole-stack
z-score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from totalseg.imaging.orientation import to_canonical
from totalseg.imaging.resample import resample_to_spacing
from totalseg.imaging.volume import Volume

SPACING_MM = 2.0
FALLBACK_CROP = {"ct": {2: (240, 240), 3: (240, 240, 240)}, "mr": {2: (210, 210), 3: (210, 210, 150)}}
_AXES = {"x": 0, "y": 1, "z": 2}


def model_input(vol: Volume, hparams: Mapping[str, Any], modality: str, *, skip_canonical: bool = False) -> np.ndarray:
    """The network input for one image: float32 ``(C, *crop_size)``.

    Examples:
        >>> vol = Volume(np.zeros((10, 10, 10), np.int16), affine=np.diag([2.0, 2.0, 2.0, 1.0]))
        >>> model_input(vol, {"dim": 3, "crop_size": [8, 8, 8]}, "ct").shape
        (1, 8, 8, 8)
    """
    if not skip_canonical:
        vol, _ = to_canonical(vol)
    data = np.asarray(resample_to_spacing(vol, spacing_mm=SPACING_MM, order=1, dtype=np.float32).array,
                      dtype=np.float32)
    dim, crop = int(hparams.get("dim", 2)), crop_size(hparams, modality)
    if dim == 3:
        stack = intensity_transforms(data[None], hparams)
        return np.stack([center_pad_or_crop(channel, crop) for channel in stack]).astype(np.float32, copy=False)
    if dim != 2:
        raise ValueError(f"unsupported body-stats model dimensionality {dim}; expected 2 or 3")
    slices = extract_slices(unpack_stride(data, hparams), hparams)
    stack = intensity_transforms(np.stack([center_pad_or_crop(s, crop) for s in slices]), hparams)
    return np.stack([center_pad_or_crop(s, crop) for s in stack]).astype(np.float32, copy=False)


def crop_size(hparams: Mapping[str, Any], modality: str) -> tuple[int, ...]:
    """``crop_size`` of the hyper-parameters, else the official fallback for the modality and dim.

    Examples:
        >>> crop_size({"dim": 3}, "mr")
        (210, 210, 150)
    """
    dim = int(hparams.get("dim", 2))
    size = (tuple(int(s) for s in hparams["crop_size"]) if hparams.get("crop_size") is not None
            else FALLBACK_CROP[modality][dim])
    if len(size) != dim:
        raise ValueError(f"crop_size {size} does not have {dim} axes")
    return size


def center_pad_or_crop(data: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """The centre of ``data`` in an array of ``shape``: cropped where larger, zero-padded where smaller.

    Examples:
        >>> center_pad_or_crop(np.arange(5), (3,)).tolist(), center_pad_or_crop(np.ones(2), (4,)).tolist()
        ([1, 2, 3], [0.0, 1.0, 1.0, 0.0])
    """
    shape = tuple(int(s) for s in shape)
    if data.ndim != len(shape):
        raise ValueError(f"cannot crop or pad an array of shape {data.shape} to {shape}")
    src, dst = [], []
    for have, want in zip(data.shape, shape):
        start = max((have - want) // 2, 0)
        end = start + min(have, want)
        offset = max((want - (end - start)) // 2, 0)
        src.append(slice(start, end))
        dst.append(slice(offset, offset + end - start))
    out = np.zeros(shape, dtype=data.dtype)
    out[tuple(dst)] = data[tuple(src)]
    return out


def intensity_transforms(stack: np.ndarray, hparams: Mapping[str, Any]) -> np.ndarray:
    """Clip (``clip``, ``clip_low``, ``clip_high``), scale to [-1, 1] (``daug_scale_itensity``), then
    normalize as trained (float32)."""
    if hparams.get("clip", False):
        stack = np.clip(stack, hparams["clip_low"], hparams["clip_high"])
    if hparams.get("daug_scale_itensity", False):
        stack = _scale_to_unit_range(stack)
    return normalize(stack, hparams)


def normalize(stack: np.ndarray, hparams: Mapping[str, Any]) -> np.ndarray:
    """``normalize`` off: as is; ``norm_global``: the training set's ``global_mean``/``global_std``
    per channel; ``norm_channel_wise`` (default): each channel's own z-score (non-zero voxels only
    with ``norm_ignore_zero``); else one z-score of the whole stack."""
    stack = stack.astype(np.float32, copy=False)
    if not hparams.get("normalize", True):
        return stack
    if hparams.get("norm_global", False):
        mean = _per_channel(hparams["global_mean"], stack, "global_mean")
        std = _per_channel(hparams["global_std"], stack, "global_std")
        return (stack - mean) / np.where(np.abs(std) < 1e-8, 1.0, std)
    if hparams.get("norm_channel_wise", True):
        return _normalize_channels(stack, nonzero=bool(hparams.get("norm_ignore_zero", False)))
    mean, std = float(stack.mean()), float(stack.std())
    return stack - mean if std < 1e-8 else (stack - mean) / std


def _normalize_channels(stack: np.ndarray, *, nonzero: bool) -> np.ndarray:
    out = np.empty_like(stack, dtype=np.float32)
    for index, channel in enumerate(stack):
        mask = channel != 0 if nonzero else np.ones(channel.shape, dtype=bool)
        if not np.any(mask):
            out[index] = channel
            continue
        mean, std = float(channel[mask].mean()), float(channel[mask].std())
        result = channel.copy()
        result[mask] = channel[mask] - mean if std < 1e-8 else (channel[mask] - mean) / std
        out[index] = result
    return out


def _per_channel(values: Any, stack: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    if values.size == 1 and stack.shape[0] != 1:
        values = np.repeat(values, stack.shape[0])
    if values.size != stack.shape[0]:
        raise ValueError(f"expected {stack.shape[0]} values for {name}, got {values.size}")
    return values.reshape((stack.shape[0],) + (1,) * (stack.ndim - 1))


def _scale_to_unit_range(stack: np.ndarray) -> np.ndarray:
    stack = stack.astype(np.float32, copy=False)
    low, high = float(stack.min()), float(stack.max())
    if high - low < 1e-8:
        return np.zeros_like(stack, dtype=np.float32)
    return ((stack - low) / (high - low) * 2.0 - 1.0).astype(np.float32)


def unpack_stride(data: np.ndarray, hparams: Mapping[str, Any]) -> np.ndarray:
    """Every ``unpack_slice_stride``-th slice, as a 2-D model saw volumes unpacked to .npy in training."""
    if not hparams.get("unpack_to_npy", False) or int(hparams.get("dim", 2)) != 2 or hparams.get("slice_subset"):
        return data
    stride = int(hparams.get("unpack_slice_stride", 1))
    if stride <= 1:
        return data
    orientation = "z" if hparams.get("tiles", False) else hparams.get("slice_orientation", "z")
    if orientation not in _AXES:
        raise ValueError(f"unsupported slice orientation {orientation!r}; expected x, y or z")
    where = [slice(None)] * 3
    where[_AXES[orientation]] = slice(None, None, stride)
    return data[tuple(where)]


def extract_slices(data: np.ndarray, hparams: Mapping[str, Any]) -> list[np.ndarray]:
    """The 2-D slices a 2-D model takes as channels (x slices, then y, then z for ``multi_orientation``).

    Examples:
        >>> data = np.arange(4 * 4 * 8).reshape(4, 4, 8)
        >>> [int(s[0, 0]) for s in extract_slices(data, {"nr_slices": 3, "multi_orientation": False})]
        [3, 4, 5]
    """
    nr_slices, multi = int(_required(hparams, "nr_slices")), bool(_required(hparams, "multi_orientation"))
    orientation = hparams.get("slice_orientation", "z")
    evenly = bool(hparams.get("sample_evenly", False))
    if orientation not in _AXES:
        raise ValueError(f"unsupported slice orientation {orientation!r}; expected x, y or z")
    offset = int(data.shape[_AXES[orientation]] / 8)
    if multi:
        offsets = [0 if n <= 1 else max(1, n // 8) for n in data.shape]
        axes = [(axis, min(offsets[axis], offset)) for axis in range(3)]
    else:
        axes = [(_AXES[orientation], offset)]
    slices: list[np.ndarray] = []
    for axis, axis_offset in axes:
        size, mid = data.shape[axis], int(data.shape[axis] / 2)
        indices = even_indices(nr_slices, size) if evenly else center_indices(mid, nr_slices, axis_offset, size)
        slices += list(np.moveaxis(data.take(indices, axis=axis), axis, 0))
    return slices


def center_indices(mid: int, nr_slices: int, offset: int, size: int) -> list[int]:
    """``nr_slices`` indices from ``mid - offset`` to ``mid + offset``, clipped to the axis.

    Examples:
        >>> center_indices(10, 3, 4, 20), center_indices(1, 3, 4, 5)
        ([6, 10, 14], [0, 1, 4])
    """
    if nr_slices < 1:
        raise ValueError(f"nr_slices must be >= 1, got {nr_slices}")
    indices = [mid] if nr_slices == 1 else np.round(np.linspace(mid - offset, mid + offset, nr_slices)).astype(int)
    return np.clip(indices, 0, size - 1).astype(int).tolist()


def even_indices(nr_slices: int, size: int, edge_fraction: float = 0.1) -> list[int]:
    """``nr_slices`` indices spread between 10 % and 90 % of the axis.

    Examples:
        >>> even_indices(3, 21)
        [2, 10, 18]
    """
    if nr_slices < 1 or size < 1:
        raise ValueError(f"nr_slices and size must be >= 1, got {nr_slices} and {size}")
    top = size - 1
    lower, upper = int(round(top * edge_fraction)), int(round(top * (1 - edge_fraction)))
    indices = [int(round(top / 2))] if nr_slices == 1 else np.round(np.linspace(lower, upper, nr_slices)).astype(int)
    return np.clip(np.array(indices), lower, upper).astype(int).tolist()


def _required(hparams: Mapping[str, Any], key: str) -> Any:
    if key not in hparams:
        raise KeyError(f"the body-stats checkpoint lacks the hyper-parameter {key!r}")
    return hparams[key]
