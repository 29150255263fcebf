"""Where the anchor structures meet the centerline, and the 11 landmarks placed from them.

The official rules: a branch vessel (brachiocephalic trunk, left subclavian artery, celiac trunk)
anchors where it touches the aorta (the vessel dilated once, intersected with the aorta); the
brachiocephalic and subclavian anchors are the two voxels of those contacts farthest apart, the
celiac anchor its highest contact voxel. T12, the sinotubular junction and the right iliac artery
anchor by themselves when at least 200 mm^3 (centre; the iliac artery's highest voxel). Each anchor
goes to its nearest centerline point. Landmarks follow from the anchors (e.g. 5 = 5 mm beyond the
brachiocephalic trunk, 7 = 5 mm before the subclavian artery, 6 = midway between 5 and 7).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial.distance import cdist

from totalseg.reports.aorta import centerline as cl
from totalseg.reports.aorta.cuts import widest_point
from totalseg.reports.aorta.definitions import LANDMARKS, MIN_STRUCTURE_MM3, STRUCTURES
from totalseg.reports.sections import find_center


@dataclass
class Anchor:
    """An anchor structure's place on the centerline (``index`` None when empty) and why it is empty."""

    index: int | None = None
    reason: str = ""


@dataclass
class Placement:
    """A landmark's centerline index, or None with the reason it is not measurable."""

    index: int | None = None
    reasons: list[str] = field(default_factory=list)


def anchor_structures(structures: dict[str, np.ndarray], aorta: np.ndarray, path: np.ndarray,
                      spacing, missing: set[str]) -> dict[str, Anchor]:
    """Each anchor key's centerline index (the official ``attach_structure_anchors``).

    Examples:
        >>> from totalseg.reports.aorta.inputs import load_report_data
        >>> from totalseg.reports.aorta.phantom import straight_tube
        >>> data = load_report_data(straight_tube(diameter_mm=20))
        >>> path = cl.orient_upward(cl.skeleton_path(cl.smoothed_for_skeleton(data.aorta)))
        >>> anchors = anchor_structures(data.structures, data.aorta, path, data.spacing, data.missing)
        >>> anchors["T12"].index is not None, anchors["celiac"].reason
        (True, "celiac_trunk was not given (it comes from the 'renal_arteries' model)")
    """
    contacts, anchors = {}, {}
    for key, data in structures.items():
        if key in ("T12", "sinotub_junc", "iliac"):
            big = data.sum() * np.prod(spacing) >= MIN_STRUCTURE_MM3
            contacts[key] = data if big else np.zeros_like(data)
        else:
            contacts[key] = (ndimage.binary_dilation(data, iterations=1) + aorta) > 1
        anchors[key] = Anchor(reason="" if contacts[key].any() else _empty_reason(key, missing))
    if anchors["brachio"].reason or anchors["subclavian"].reason:
        for key in ("brachio", "subclavian"):
            anchors[key].reason = anchors[key].reason or _pair_reason(anchors, key)
        branch = {}
    else:
        branch = dict(zip(("brachio", "subclavian"), farthest_points(contacts["brachio"], contacts["subclavian"])))
    for key in STRUCTURES:
        if anchors[key].reason:
            continue
        anchors[key].index = _anchor_index(key, contacts[key], branch, anchors, path, spacing)
        if anchors[key].index is None:
            anchors[key].reason = f"{STRUCTURES[key].mask} could not be mapped to the centerline"
    return anchors


def _anchor_index(key, contact, branch, anchors, path, spacing) -> int | None:
    if key in ("celiac", "iliac"):
        where = np.where(contact > 0)
        top = int(np.argmax(where[2]))
        point = np.array([where[a][top] for a in range(3)])
    elif key in branch:
        point = np.asarray(branch[key])
    else:
        point = np.round(find_center(contact)).astype(np.int32)
    if key == "sinotub_junc" and anchors["brachio"].index is not None:
        stretch = path[anchors["brachio"].index:]
    elif key == "T12":
        stretch = cl.closest_section(path, point, 40, spacing[2])
    else:
        stretch = path
    return cl.index_of(path, cl.closest_point(stretch, point))


def _empty_reason(key: str, missing: set[str]) -> str:
    s = STRUCTURES[key]
    if key in missing:
        return f"{s.mask} was not given (it comes from the '{s.task}' model)"
    if key in ("T12", "sinotub_junc", "iliac"):
        return f"{s.mask} is empty or smaller than {MIN_STRUCTURE_MM3} mm^3 (cut off or not segmented)"
    return f"{s.mask} is empty or does not touch the aorta"


def _pair_reason(anchors: dict[str, Anchor], key: str) -> str:
    other = "subclavian" if key == "brachio" else "brachio"
    return f"{STRUCTURES[other].mask} is unusable and the arch landmarks need both arch branches"


def place_landmarks(anchors: dict[str, Anchor], *, annulus_reason: str, path: np.ndarray, sections_mask: np.ndarray,
                    affine: np.ndarray, zooms) -> dict[int, Placement]:
    """Each landmark's centerline index, or None and why (the official ``create_landmarks``).

    Examples:
        >>> path = np.array([[5, 5, z] for z in range(200)], dtype=float)
        >>> anchors = {key: Anchor(reason="not given") for key in STRUCTURES}
        >>> anchors["T12"], anchors["iliac"] = Anchor(index=120), Anchor(index=10)
        >>> marks = place_landmarks(anchors, annulus_reason="not given", path=path, sections_mask=None,
        ...                         affine=np.eye(4), zooms=(0.8, 0.8, 0.8))
        >>> {n: m.index for n, m in marks.items() if m.index is not None}
        {9: 120, 11: 25}
    """
    reasons = {key: a.reason for key, a in anchors.items()} | {"annulus": annulus_reason}
    marks = {n: Placement(reasons=[reasons[d] for d in lm.depends_on if reasons[d]]) for n, lm in LANDMARKS.items()}
    spacing = np.asarray(zooms[:3])

    def put(number: int, index: int | None) -> None:
        if marks[number].reasons:
            return
        if index is None:
            marks[number].reasons.append("its position falls outside the centerline")
        else:
            marks[number].index = int(index)

    def at(number: int) -> int | None:
        return marks[number].index

    put(11, cl.step_by_distance(path, 0, 20, spacing))
    put(10, anchors["celiac"].index)
    if not marks[9].reasons:
        celiac, t12 = anchors["celiac"].index, anchors["T12"].index
        below = celiac is not None and t12 < celiac
        put(9, cl.step_by_distance(path, celiac, 10, spacing) if below else t12)
    put(7, cl.step_by_distance(path, anchors["subclavian"].index, -5, spacing))
    if not (marks[8].reasons or marks[7].reasons or marks[9].reasons):
        put(8, cl.midpoint_index(path, at(7), at(9)))
    put(5, cl.step_by_distance(path, anchors["brachio"].index, 5, spacing))
    if not (marks[6].reasons or marks[5].reasons or marks[7].reasons):
        put(6, cl.midpoint_index(path, at(5), at(7)))
    put(3, anchors["sinotub_junc"].index)
    if not (marks[4].reasons or marks[3].reasons or marks[5].reasons):
        put(4, cl.midpoint_index(path, at(3), at(5)))
    put(1, len(path) - 1)
    if not (marks[2].reasons or marks[1].reasons or marks[3].reasons):
        put(2, _sinus_index(path, at(1), at(3), sections_mask, affine, zooms, spacing))
    for mark in marks.values():
        if mark.index is None and not mark.reasons:
            mark.reasons.append("a landmark it is placed from could not be placed")
        if mark.reasons:
            mark.index = None
    return marks


def _sinus_index(path, annulus_idx, sinotub_idx, mask, affine, zooms, spacing) -> int | None:
    """The widest point between 10 mm above the annulus and 10 mm below the sinotubular junction."""
    start = cl.step_by_distance(path, sinotub_idx, 10, spacing)
    end = cl.step_by_distance(path, annulus_idx, -10, spacing)
    if start is not None and end is not None and start < end:
        stretch = path[start:end]
        local = widest_point(mask, affine, zooms, stretch, 80)
        index = cl.index_of(path, stretch[local]) if local is not None else None
        if index is not None:
            return index
    return cl.midpoint_index(path, annulus_idx, sinotub_idx)


def farthest_points(mask_a: np.ndarray, mask_b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """The voxel of ``mask_a`` and the voxel of ``mask_b`` farthest apart (first in C order on ties).

    Examples:
        >>> a = np.zeros((5, 5), bool); a[0, 0] = a[1, 1] = True
        >>> b = np.zeros((5, 5), bool); b[4, 4] = True
        >>> [p.tolist() for p in farthest_points(a, b)]
        [[0, 0], [4, 4]]
    """
    points_a, points_b = np.argwhere(mask_a), np.argwhere(mask_b)
    best, result = 0.0, (None, None)
    for offset in range(0, len(points_a), 1024):
        distances = cdist(points_a[offset: offset + 1024], points_b)
        k = int(np.argmax(distances))
        if distances.flat[k] > best:
            i, j = np.unravel_index(k, distances.shape)
            best, result = distances.flat[k], (points_a[offset + i], points_b[j])
    return result
