"""TotalSegmentator v1's label numbering for a ``total`` segmentation (``--v1_order``)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from totalseg.anatomy.class_maps import class_map
from totalseg.imaging.volume import LabelVolume


def reorder_like_v1(labels: LabelVolume, classes: Mapping[int, str]) -> tuple[LabelVolume, dict[int, str]]:
    """``labels`` (ids of ``classes``, the total map or its ROI subset) renumbered as v1 numbered the
    same structures, and the v1 names they carry.

    Structures v1 lacks are dropped; the names are v1's map, without the structures an ROI
    subset left out (the official tool keeps v1's heart chambers in the label names, empty).

    Examples:
        >>> vol = LabelVolume(np.array([[[5, 0]]], np.uint8), affine=np.eye(4))
        >>> out, names = reorder_like_v1(vol, class_map("total"))
        >>> names[int(out.array[0, 0, 0])]
        'liver'
    """
    v1 = class_map("total_v1")
    subset = len(classes) < len(class_map("total"))
    lut = np.zeros(256, np.uint8)
    by_name = {name: label for label, name in classes.items()}
    for label, name in v1.items():
        if name in by_name:
            lut[by_name[name]] = label
    names = {label: name for label, name in v1.items() if not subset or name in by_name}
    return labels.with_data(lut[labels.array]), names
