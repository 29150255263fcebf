"""totalseg: whole-body CT and MR segmentation with the official TotalSegmentator weights.

The public entry point is :func:`totalseg.segment`; the ``totalseg`` command wraps it.
:func:`totalseg.totalsegmentator` is the official Python API's signature on the same engine.
Both are imported on first use, so ``import totalseg`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["segment", "totalsegmentator", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "segment":
        from totalseg.api import segment

        return segment
    if name == "totalsegmentator":
        from totalseg.python_api import totalsegmentator

        return totalsegmentator
    raise AttributeError(f"module 'totalseg' has no attribute {name!r}")
