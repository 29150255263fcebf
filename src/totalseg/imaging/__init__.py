"""Image geometry: the :class:`Volume` type, orientation to canonical RAS, resampling, cropping
and the memory layout of volumes (fast C-ordered copies).

Everything here is a small pure function of arrays and affines; nothing reads or writes files.
"""

from totalseg.imaging.volume import LabelVolume, Volume

__all__ = ["Volume", "LabelVolume"]
