"""The official post-processing of the ``vertebrae_pp`` and ``vertebrae_pp_refined`` tasks.

Ports of TotalSegmentator 2.18.0's ``postprocess_vertebrae_pp`` and
``refine_vertebrae_pp_with_body_mask`` (same results bit for bit; ``tests/data/postprocess_golden``
holds the official outputs). The ``vertebrae_pp`` model segments vertebral bodies eroded by 3 mm,
so two labels should never touch: where they do, the bodies are renumbered by position, then every
label grows back by 3 mm into the background.

Voxel sizes are taken as a NIfTI header stores them: float32, in array-axis order (i, j, k), which
after the closest-canonical reorientation is (x, y, z) with k running inferior to superior. All the
arithmetic on them (kernel radii, voxel volume) is done in float32, as the official code does with
``header.get_zooms()``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage

MIN_BODY_MM3 = 100.0
REGROW_MM = 3.0
REFINE_MM = 2.0


def voxel_volume_mm3(spacing_mm: Sequence[float]) -> np.float32:
    """The voxel volume as the official code computes it: the float32 product of the header zooms.

    Examples:
        >>> v = voxel_volume_mm3((0.8, 0.8, 2.5)); v.dtype, float(v)  # one float32 step above float32(1.6)
        (dtype('float32'), 1.6000001430511475)
    """
    return np.prod(np.asarray(spacing_mm, dtype=np.float32))


def ellipsoid_kernel(spacing_mm: Sequence[float], radius_mm: float) -> np.ndarray:
    """A boolean structuring element: the voxels within ``radius_mm`` of the centre, in millimetres.

    The official ``get_ellipsoid_structuring_element``: per axis the float32 radius in voxels
    ``r = radius_mm / spacing``, offsets ``-r, -r + 1, ...`` below ``r + 1``, kept where
    ``sum(offset**2 / r**2) <= 1`` in float32. A radius <= 0 gives a single voxel.

    Examples:
        >>> int(ellipsoid_kernel((1.0, 1.0, 1.0), 1).sum()), ellipsoid_kernel((0.8, 0.8, 2.5), 3).shape
        (7, (9, 9, 4))
    """
    if radius_mm <= 0:
        return np.ones((1, 1, 1), dtype=bool)
    radii = np.float32(radius_mm) / np.asarray(spacing_mm, dtype=np.float32)
    total = np.float32(0)
    for axis, r in enumerate(radii):
        start, stop = -r, r + np.float32(1)
        offsets = np.arange(math.ceil(stop - start), dtype=np.float32) + start
        shape = [1, 1, 1]
        shape[axis] = offsets.size
        total = total + (offsets * offsets / (r * r)).reshape(shape)
    return total <= 1


def labels_touch(labels: np.ndarray) -> bool:
    """Whether two different non-zero labels are face neighbours anywhere in ``labels``.

    Examples:
        >>> labels_touch(np.array([[[1, 1, 0, 2]]])), labels_touch(np.array([[[1, 2, 0, 0]]]))
        (False, True)
    """
    for axis in range(labels.ndim):
        moved = np.moveaxis(labels, axis, 0)
        lower, upper = moved[:-1], moved[1:]
        if np.any((lower != upper) & (lower > 0) & (upper > 0)):
            return True
    return False


def _padded_box(box: tuple[slice, ...], reach: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, ...]:
    """``box`` grown by ``reach`` voxels per axis, clipped to ``shape``."""
    return tuple(slice(max(s.start - int(r), 0), min(s.stop + int(r), n)) for s, r, n in zip(box, reach, shape))


def regrow_labels(labels: np.ndarray, label_ids: Sequence[int], *, spacing_mm: Sequence[float],
                  dilation_mm: float = REGROW_MM) -> np.ndarray:
    """Each label of ``label_ids`` dilated by ``dilation_mm`` (an ellipsoid in mm) into the background.

    The official ``dilate_vertebrae_labels``: labels are grown one at a time in ascending id order,
    each from its own voxels in ``labels``, within its bounding box padded by ``ceil(radius)``
    voxels; a background voxel reached by two labels takes the lower id. Returns a new uint8 array
    (``labels`` cast when ``dilation_mm <= 0``).

    Examples:
        >>> out = regrow_labels(np.array([[[0, 1, 0, 0, 2, 0]]], np.uint8), [1, 2], spacing_mm=(1, 1, 1),
        ...                     dilation_mm=1)
        >>> out.tolist()
        [[[1, 1, 1, 2, 2, 2]]]
    """
    out = labels.astype(np.uint8)
    if dilation_mm <= 0:
        return out
    kernel = ellipsoid_kernel(spacing_mm, dilation_mm)
    reach = np.ceil(np.float32(dilation_mm) / np.asarray(spacing_mm, dtype=np.float32)).astype(int)
    boxes = ndimage.find_objects(out, max_label=max(label_ids, default=0))
    for label in sorted(label_ids):
        if label < 1 or boxes[label - 1] is None:
            continue
        box = _padded_box(boxes[label - 1], reach, labels.shape)
        grown = ndimage.binary_dilation(labels[box] == label, structure=kernel)
        region = out[box]
        region[grown & (region == 0)] = label
    return out


def _z_centroids(components: np.ndarray, count: int) -> np.ndarray:
    """Mean index along the last axis of each component 1..count (exact sums, one float64 division)."""
    z_sums = np.zeros(count + 1, dtype=np.int64)
    sizes = np.zeros(count + 1, dtype=np.int64)
    for z in range(components.shape[-1]):
        per_component = np.bincount(components[..., z].ravel(), minlength=count + 1)
        z_sums += per_component * z
        sizes += per_component
    with np.errstate(invalid="ignore", divide="ignore"):
        return (z_sums / sizes)[1:]


def _label_order(kept: np.ndarray, z_centroids: np.ndarray, *, from_top: bool) -> np.ndarray:
    """The kept component numbers by z-centroid: descending from the top, else ascending (stable)."""
    z = z_centroids[kept - 1]
    return kept[np.argsort(-z if from_top else z, kind="stable")]


def renumber_vertebrae(labels: np.ndarray, class_map: Mapping[int, str], *, spacing_mm: Sequence[float],
                       min_size_mm3: float = MIN_BODY_MM3) -> np.ndarray:
    """Vertebral bodies (6-connected components of ``labels > 0``) renumbered by their z-centroids.

    The relabelling step of the official ``postprocess_vertebrae_pp``: components below
    ``min_size_mm3`` (voxel count x float32 voxel volume) are dropped; the others are numbered from
    the bottom (lowest z-centroid) with the highest label present downward to the lowest id, or, when
    ``vertebrae_C1`` is present and ``vertebrae_L5`` is not, from the top with C1's id upward.
    Components left over once the ids run out stay 0; labels not in ``class_map`` count as vertebrae
    but not as present labels. Returns uint8; all zeros when nothing is kept.

    The official code raises ``IndexError`` when exactly one component is kept (scipy returns a list of
    one centre there, which it wraps once more); here that component is numbered like any other.

    Examples:
        >>> names = {1: "vertebrae_C1", 2: "vertebrae_C2", 3: "vertebrae_C3", 4: "vertebrae_L5"}
        >>> col = np.array([[[2, 2, 0, 3, 3, 0, 3, 2]]], np.uint8)  # three bodies, bottom to top
        >>> renumber_vertebrae(col, names, spacing_mm=(1, 1, 1), min_size_mm3=1).tolist()
        [[[3, 3, 0, 2, 2, 0, 1, 1]]]
    """
    inverse = {name: label for label, name in class_map.items()}
    missing = [name for name in ("vertebrae_C1", "vertebrae_L5") if name not in inverse]
    if missing:
        raise ValueError(f"the class map lacks {missing}; pass the vertebrae_pp class map (ids 1-24)")
    components, count = ndimage.label(labels > 0)
    sizes = np.bincount(components.ravel(), minlength=count + 1)
    voxel_mm3 = np.float64(voxel_volume_mm3(spacing_mm))
    kept = np.flatnonzero(sizes * voxel_mm3 >= min_size_mm3)
    kept = kept[kept != 0]
    kept_mask = np.isin(components, kept)
    present = sorted(set(np.unique(labels[kept_mask]).tolist()) & set(class_map))
    if not present:
        return np.zeros(labels.shape, dtype=np.uint8)
    c1, l5 = inverse["vertebrae_C1"], inverse["vertebrae_L5"]
    from_top = l5 not in present and c1 in present
    order = _label_order(kept, _z_centroids(components, count), from_top=from_top)
    ids = range(c1, max(class_map) + 1) if from_top else range(max(present), min(class_map) - 1, -1)
    lut = np.zeros(count + 1, dtype=np.uint8)
    for component, label in zip(order, ids):
        lut[component] = label
    return lut[components]


def postprocess_vertebrae_pp(labels: np.ndarray, class_map: Mapping[int, str], *, spacing_mm: Sequence[float],
                             min_size_mm3: float = MIN_BODY_MM3, dilation_mm: float = REGROW_MM) -> np.ndarray:
    """The official ``vertebrae_pp`` post-processing of a label map at the model's grid, as uint8.

    Where two labels touch, the bodies are renumbered (:func:`renumber_vertebrae`); then every label
    of ``class_map`` grows back by ``dilation_mm`` (:func:`regrow_labels`). ``labels`` must be in the
    closest-canonical (RAS) orientation so the last axis runs inferior to superior; ``spacing_mm``
    are its header zooms (i, j, k). The official tool calls it right after the prediction, on the
    resampled (1.5 mm) grid, with that grid's header zooms.

    Examples:
        >>> names = {i + 1: f"vertebrae_{n}" for i, n in enumerate(["C1", "C2", "L5"])}
        >>> col = np.array([[[0, 0, 1, 1, 0, 0, 0]]], np.uint8)
        >>> postprocess_vertebrae_pp(col, names, spacing_mm=(1, 1, 1), dilation_mm=1).tolist()
        [[[0, 1, 1, 1, 1, 0, 0]]]
    """
    labels = labels.astype(np.uint8, copy=False)
    if labels_touch(labels):
        labels = renumber_vertebrae(labels, class_map, spacing_mm=spacing_mm, min_size_mm3=min_size_mm3)
    return regrow_labels(labels, list(class_map), spacing_mm=spacing_mm, dilation_mm=dilation_mm)


def refine_vertebrae_pp(labels: np.ndarray, body_labels: np.ndarray, class_map: Mapping[int, str], *,
                        spacing_mm: Sequence[float], dilation_mm: float = REFINE_MM) -> np.ndarray:
    """``vertebrae_pp`` labels grown by ``dilation_mm``, then cut to the ``vertebrae_body`` label 1, as uint8.

    The official ``refine_vertebrae_pp_with_body_mask`` (task ``vertebrae_pp_refined``): it runs at
    the input image's grid and orientation, after the resampling back, with the input's header zooms;
    ``body_labels`` is the ``vertebrae_body`` task's output there (1 = vertebral body, 2 = disc).

    Examples:
        >>> col = np.array([[[0, 3, 0, 0, 0]]], np.uint8); body = np.array([[[1, 1, 1, 2, 0]]])
        >>> refine_vertebrae_pp(col, body, {3: "vertebrae_C3"}, spacing_mm=(1, 1, 1), dilation_mm=3).tolist()
        [[[3, 3, 3, 0, 0]]]
    """
    if labels.shape != body_labels.shape:
        raise ValueError(f"vertebrae_pp labels of shape {labels.shape} and vertebrae_body labels of shape "
                         f"{body_labels.shape}: both must be on the input image's grid")
    grown = regrow_labels(labels, list(class_map), spacing_mm=spacing_mm, dilation_mm=dilation_mm)
    grown[body_labels != 1] = 0
    return grown
