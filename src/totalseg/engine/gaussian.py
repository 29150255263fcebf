"""The Gaussian importance map that weights each tile's logits towards its centre."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from scipy.ndimage import gaussian_filter


@lru_cache(maxsize=4)
def _gaussian_float64(patch: tuple[int, ...], sigma_scale: float, value_scale: float) -> np.ndarray:
    impulse = np.zeros(patch)
    impulse[tuple(p // 2 for p in patch)] = 1
    gauss = gaussian_filter(impulse, [p * sigma_scale for p in patch], 0, mode="constant", cval=0)
    gauss /= np.max(gauss) / value_scale
    return gauss


def importance_map(
    patch: tuple[int, ...],
    *,
    sigma_scale: float = 1.0 / 8,
    value_scale: float = 10.0,
    dtype: torch.dtype = torch.float16,
) -> torch.Tensor:
    """nnU-Net's map: a Gaussian (sigma = patch * sigma_scale) scaled to max ``value_scale``, cast to
    ``dtype``, with zeros replaced by the smallest non-zero value (no voxel may get weight 0).

    Examples:
        >>> g = importance_map((16, 16, 16))
        >>> float(g.max()), g.dtype
        (10.0, torch.float16)
    """
    gauss = torch.from_numpy(_gaussian_float64(tuple(patch), sigma_scale, value_scale)).to(dtype=dtype)
    zero = gauss == 0
    gauss[zero] = torch.min(gauss[~zero])
    return gauss
