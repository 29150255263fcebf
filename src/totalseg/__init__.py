"""totalseg: whole-body CT and MR segmentation with the official TotalSegmentator weights.

The public entry point is :func:`totalseg.segment`; the ``totalseg`` command wraps it.
"""

__version__ = "0.1.0"
