"""Anatomy data: the official class maps (label id -> structure name), part maps, SNOMED codes.

The JSON/CSV files are copies of the official tool's tables; the loaders here only read them.
"""

from totalseg.anatomy.class_maps import class_map, part_map, part_of_model

__all__ = ["class_map", "part_map", "part_of_model"]
