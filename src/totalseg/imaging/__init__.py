"""Image geometry: the :class:`Volume` type, orientation to canonical RAS, resampling and cropping.

Everything here is a small pure function of arrays and affines; nothing reads or writes files.
"""

from totalseg.imaging.volume import LabelVolume, Volume

__all__ = ["Volume", "LabelVolume"]
