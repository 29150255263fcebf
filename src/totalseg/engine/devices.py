"""Device names as users type them (``cpu``, ``gpu``, ``gpu:N``, ``mps``) to torch devices."""

from __future__ import annotations

import warnings

import torch

from totalseg.errors import InputError


def device_from_name(name: str) -> torch.device:
    """``cpu``, ``gpu``, ``gpu:N``, ``cuda[:N]`` or ``mps`` as a torch device."""
    name = name.strip().lower()
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise InputError("device 'mps' is not available on this machine; use --device cpu")
        return torch.device("mps")
    if name in ("gpu", "cuda") and not torch.cuda.is_available():
        warnings.warn("no CUDA GPU found; running on the CPU", stacklevel=2)
        return torch.device("cpu")
    if name.startswith(("gpu", "cuda")):
        index = name.split(":", 1)[1] if ":" in name else "0"
        if not index.isdigit():
            raise InputError(f"device {name!r} is not valid; use cpu, gpu, gpu:N or mps")
        if not torch.cuda.is_available() or int(index) >= torch.cuda.device_count():
            raise InputError(f"device {name!r} is not available (CUDA GPUs found: "
                             f"{torch.cuda.device_count() if torch.cuda.is_available() else 0}); use --device cpu")
        return torch.device(f"cuda:{index}")
    raise InputError(f"device {name!r} is not valid; use cpu, gpu, gpu:N or mps")
