"""Memory layout of 3-D arrays: C-ordered copies that stay fast for 512 x 512 planes."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

# Tile of the last two axes copied at a time: measured best on 512x512xN and 488x404xN CTs.
_TILE = (16, 8)


def c_contiguous(array: np.ndarray, dtype: DTypeLike | None = None) -> np.ndarray:
    """``np.ascontiguousarray(array, dtype)``, copying a 3-D array tile by tile.

    nibabel loads NIfTI voxels in Fortran order. Reordering such a volume in one pass writes
    along z with a stride of one x-y plane; when a plane is a power of two in bytes (512 x 512
    int16, the usual CT) every write maps to the same few cache sets, and numpy's copy of a
    512 x 512 x 900 CT takes 5 s. Copying 16 x 8 tiles of the last two axes keeps the written
    lines in cache: 0.5 s, the same values.

    Examples:
        >>> import numpy as np
        >>> f = np.asfortranarray(np.arange(24, dtype=np.int16).reshape(2, 3, 4))
        >>> c = c_contiguous(f, np.float32)
        >>> c.flags.c_contiguous, c.dtype.name, bool((c == f).all())
        (True, 'float32', True)
    """
    dtype = array.dtype if dtype is None else np.dtype(dtype)
    if array.ndim != 3 or array.flags.c_contiguous:
        return np.ascontiguousarray(array, dtype=dtype)
    out = np.empty(array.shape, dtype)
    tj, tk = _TILE
    for j in range(0, array.shape[1], tj):
        for k in range(0, array.shape[2], tk):
            out[:, j : j + tj, k : k + tk] = array[:, j : j + tj, k : k + tk]
    return out
