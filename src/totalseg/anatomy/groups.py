"""Named groups of classes that ``totalseg combine`` merges into one mask, as the official
``totalseg_combine_masks`` defines them (``libs.combine_masks``)."""

from __future__ import annotations

from types import MappingProxyType

_RIBS = tuple(f"rib_{side}_{i}" for side in ("left", "right") for i in range(1, 13))
_LUNG_LEFT = ("lung_upper_lobe_left", "lung_lower_lobe_left")
_LUNG_RIGHT = ("lung_upper_lobe_right", "lung_middle_lobe_right", "lung_lower_lobe_right")

# The classes of the official vertebrae part model, in its order (sacrum, S1, L5 ... C1).
_VERTEBRAE = ("sacrum", "vertebrae_S1", *(f"vertebrae_L{i}" for i in range(5, 0, -1)),
              *(f"vertebrae_T{i}" for i in range(12, 0, -1)), *(f"vertebrae_C{i}" for i in range(7, 0, -1)))


MASK_GROUPS = MappingProxyType({
    "lung": _LUNG_LEFT + _LUNG_RIGHT,
    "lung_left": _LUNG_LEFT,
    "lung_right": _LUNG_RIGHT,
    "vertebrae": _VERTEBRAE,
    "ribs": _RIBS,
    "vertebrae_ribs": _VERTEBRAE + _RIBS,
    # The official tool offers `heart` but has no list for it and looks for the masks h, e, a, r, t
    # (it iterates over the name's letters), so it always fails; here it is the one total class.
    "heart": ("heart",),
    "pelvis": ("femur_left", "femur_right", "hip_left", "hip_right"),
    "body": ("body_trunc", "body_extremities"),
})
"""Group name -> class names, in the official order (the order decides which mask gives the affine)."""

GROUP_NAMES = tuple(MASK_GROUPS)


def group_classes(group: str) -> tuple[str, ...]:
    """The class names of a group.

    Raises:
        KeyError: ``group`` is not one of :data:`GROUP_NAMES`.

    Examples:
        >>> group_classes("lung_left")
        ('lung_upper_lobe_left', 'lung_lower_lobe_left')
        >>> len(group_classes("vertebrae_ribs"))
        50
    """
    if group not in MASK_GROUPS:
        raise KeyError(f"unknown mask group {group!r}; choose one of {', '.join(GROUP_NAMES)}")
    return MASK_GROUPS[group]
