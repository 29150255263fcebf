"""Load nnU-Net v2 checkpoints without executing pickled code.

``torch.load(weights_only=True)`` only rebuilds tensors and plain containers. nnU-Net checkpoints
also hold numpy scalars (training logs) and ``torch.device`` (init args): those few plain types are
allow-listed; anything else (a function, a class with ``__reduce__``) is refused.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from totalseg.errors import WeightsError


def _numpy_globals() -> list:
    core = getattr(np, "_core", None) or np.core
    allowed = [core.multiarray.scalar, np.dtype]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:  # numpy >= 1.25 pickles dtypes through their DType classes
        allowed += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return allowed


SAFE_GLOBALS = _numpy_globals()


def load_checkpoint(path: Path) -> dict:
    """Read a ``checkpoint_final.pth`` safely onto the CPU.

    Raises:
        WeightsError: the file is missing, truncated, not a checkpoint, or holds code.
    """
    checkpoint = load_safely(path)
    if not isinstance(checkpoint, dict) or "network_weights" not in checkpoint:
        raise WeightsError(f"{path}: no 'network_weights' in the checkpoint; is it an nnU-Net v2 checkpoint?")
    return checkpoint


def load_safely(path: Path, extra_globals: Sequence[Any] = ()) -> Any:
    """``torch.load`` onto the CPU with only tensors, plain containers, :data:`SAFE_GLOBALS` and
    ``extra_globals`` allowed: a pickle that names anything else is refused, never executed.

    Raises:
        WeightsError: the file is missing, truncated, not a torch file, or holds other objects.
    """
    if not path.is_file():
        raise WeightsError(f"{path} is missing; re-download or re-import the weights")
    try:
        with torch.serialization.safe_globals([*SAFE_GLOBALS, *extra_globals]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if "GLOBAL" in line]
        if not lines:
            detail = str(exc)[:120]
            raise WeightsError(f"{path}: not a readable checkpoint ({detail}); re-download the weights") from None
        raise WeightsError(
            f"{path}: refused to load, the checkpoint holds objects other than weights ({lines[0][:160]}); "
            "use weights from a trusted source"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise WeightsError(f"{path}: not a readable checkpoint ({exc}); re-download the weights") from None
