"""Per-vertebra measurements of the official spine report: heights, volume and intensity.

Everything is on the closest canonical (RAS) grid, as the official ``get_verte_height``:

- the vertebrae are the ``vertebrae_*`` labels, ordered C, T, L, S by number;
- each body's centroid is taken on the mask eroded by a box of 3 mm (voxels rounded, at least one
  per side; the image border counts as inside), falling back to the mask itself;
- a vertebra is measured unless it is S1 (its centroid still steers L5's axis) or its mask touches
  the image border (cut off by the field of view);
- the height axis joins the centroids of the neighbours (or one neighbour and itself), the depth
  axis is perpendicular to it in mm on the sagittal plane;
- sagittal slices every ~5 mm over the middle half of the (eroded) body's left-right extent are
  measured, and the slice whose three heights are all positive and differ most wins (the centroid's
  slice otherwise);
- volume counts the mask's voxels; mean and median HU are taken inside the mask eroded by a 4 mm
  ellipsoid.

"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.reports.spine.heights import HeightLine, three_heights

REGION_ORDER = {"C": 1, "T": 2, "L": 3, "S": 4}
CENTROID_EROSION_MM = 3.0
INTENSITY_EROSION_MM = 4.0
SCAN_MARGIN = 0.25  # share of the body's left-right extent left out at each end
SCAN_STEP_MM = 5.0
# --spine_range: which vertebrae are reported (their neighbours still steer the axes)
SPINE_RANGES = {
    "all": None,
    "thoracic_lumbar": lambda name: name.startswith(("vertebrae_T", "vertebrae_L")),
    "lumbar": lambda name: name.startswith("vertebrae_L"),
    "l1_l4": lambda name: name in ("vertebrae_L1", "vertebrae_L2", "vertebrae_L3", "vertebrae_L4"),
}


@dataclass(frozen=True)
class Vertebra:
    """One measured vertebra (canonical voxel coordinates).

    Attributes:
        name: the label name (``vertebrae_L1``).
        label_id: its label value.
        heights: posterior, middle and anterior :class:`HeightLine` on the chosen slice.
        x_slice: the chosen sagittal slice (canonical X index).
        centroid: (x, y, z) of the eroded body.
        volume_mm3: the mask's voxel count times the voxel volume.
        mean_hu, median_hu: CT values inside the 4 mm eroded mask (0.0 where nothing is left).
    """

    name: str
    label_id: int
    heights: tuple[HeightLine, ...]
    x_slice: int
    centroid: tuple[float, float, float]
    volume_mm3: float
    mean_hu: float
    median_hu: float


@dataclass(frozen=True)
class SpineMeasurement:
    """The measured vertebrae in spine order, and why the others were not measured."""

    vertebrae: tuple[Vertebra, ...]
    not_measured: Mapping[str, str] = field(default_factory=dict)  # name -> reason ("because ...")


@dataclass(frozen=True)
class _Candidate:
    label_id: int
    name: str
    box: tuple[slice, ...] | None  # the label's bounding box
    centroid: np.ndarray | None


def vertebra_order(name: str) -> tuple[int, int]:
    """Sort key of a vertebra label: region (C, T, L, S) then number; unknown names last.

    Examples:
        >>> sorted(["vertebrae_L1", "vertebrae_T12", "vertebrae_C7", "vertebrae_S1"], key=vertebra_order)
        ['vertebrae_C7', 'vertebrae_T12', 'vertebrae_L1', 'vertebrae_S1']
    """
    part = name.replace("vertebrae_", "").strip()
    if len(part) >= 2 and part[1:].isdigit():
        return REGION_ORDER.get(part[0], 5), int(part[1:])
    return 99, 0


def measure_spine(ct: Volume, labels: LabelVolume, label_map: Mapping[int, str], *,
                  ct_spacing: Sequence[float], label_spacing: Sequence[float],
                  spine_range: str = "all") -> SpineMeasurement:
    """Measure every vertebra of ``labels`` (both volumes on the same canonical grid).

    Args:
        ct: the CT in HU on the canonical grid.
        labels: the vertebrae labels (``vertebrae_pp_refined``) on the same grid.
        label_map: label id -> name; only ``vertebrae_*`` names count.
        ct_spacing: the CT's voxel sizes (as its header gives them; used for heights, volume, steps).
        label_spacing: the labels' voxel sizes (used for the 4 mm intensity erosion).
        spine_range: ``all``, ``thoracic_lumbar``, ``lumbar`` or ``l1_l4``.

    Returns:
        A :class:`SpineMeasurement`.

    Examples:
        >>> from totalseg.imaging.volume import Volume
        >>> labels = np.zeros((30, 40, 60), np.uint8)
        >>> labels[8:22, 10:30, 5:25], labels[8:22, 10:30, 35:55] = 2, 1  # L1 above L2, 20 voxels high
        >>> ct = Volume(np.where(labels > 0, 200, -100).astype(np.int16), affine=np.eye(4))
        >>> spine = measure_spine(ct, LabelVolume(labels, affine=np.eye(4)), {1: "vertebrae_L1", 2: "vertebrae_L2"},
        ...                       ct_spacing=(1.0, 1.0, 1.0), label_spacing=(1.0, 1.0, 1.0))
        >>> [(v.name, [round(h.height_mm, 1) for h in v.heights]) for v in spine.vertebrae]
        [('vertebrae_L1', [19.0, 19.0, 19.0]), ('vertebrae_L2', [19.0, 19.0, 19.0])]
    """
    names = sorted(((int(k), v) for k, v in label_map.items() if v.startswith("vertebrae_")),
                   key=lambda item: vertebra_order(item[1]))
    chosen, helpers = _in_range(names, spine_range)
    array = np.asarray(labels.array)
    boxes = ndimage.find_objects(array.astype(np.int32, copy=False), max_label=max((i for i, _ in chosen), default=0))
    candidates, not_measured = [], {}
    for label_id, name in chosen:
        box = boxes[label_id - 1] if 0 < label_id <= len(boxes) else None
        candidates.append(_Candidate(label_id, name, box, None if box is None else
                                     _centroid(array, label_id, box, ct_spacing)))
    measured = []
    for index, cand in enumerate(candidates):
        reason = _skip_reason(cand, array.shape, helpers)
        if reason:
            if cand.name not in helpers:
                not_measured[cand.name] = reason
            continue
        measured.append(_measure(np.asarray(ct.array), array, cand, _axis(candidates, index), ct_spacing,
                                 label_spacing))
    return SpineMeasurement(tuple(measured), not_measured)


def _in_range(names: list[tuple[int, str]], spine_range: str) -> tuple[list[tuple[int, str]], set[str]]:
    """The vertebrae to walk through and those among them kept only as axis helpers."""
    keep = SPINE_RANGES[spine_range]
    if keep is None:
        return names, set()
    hits = [i for i, (_, name) in enumerate(names) if keep(name)]
    if not hits:
        return [], set()
    start, stop = max(0, hits[0] - 1), min(len(names) - 1, hits[-1] + 1)
    helpers = {names[i][1] for i in range(start, stop + 1) if i < hits[0] or i > hits[-1]}
    return names[start:stop + 1], helpers


def _skip_reason(cand: _Candidate, shape: tuple[int, ...], helpers: set[str]) -> str | None:
    if cand.centroid is None:
        return "not measurable, because it is not in the segmentation (outside the image or not found)"
    if cand.name in helpers:
        return "outside the requested spine range"
    if cand.name == "vertebrae_S1":
        return "not measurable, because S1 is not measured by the official report (its centroid only steers L5's axis)"
    box = cand.box
    if any(s.start == 0 or s.stop == n for s, n in zip(box, shape)):
        return "not measurable, because it touches the image border (cut off by the field of view)"
    return None


def _padded(box: tuple[slice, ...], pad: Sequence[int], shape: Sequence[int]) -> tuple[slice, ...]:
    return tuple(slice(max(0, s.start - p), min(n, s.stop + p)) for s, p, n in zip(box, pad, shape))


def _box_radius(spacing: Sequence[float], mm: float) -> tuple[int, int, int]:
    """Voxels per side of the official box erosion: ``max(1, round(mm / spacing))`` per axis."""
    return tuple(max(1, int(round(mm / float(s)))) for s in spacing)  # type: ignore[return-value]


def _centroid(array: np.ndarray, label_id: int, box: tuple[slice, ...], spacing: Sequence[float]) -> np.ndarray:
    """Centroid of the mask eroded by the 3 mm box (image border inside), else of the mask."""
    radius = _box_radius(spacing, CENTROID_EROSION_MM)
    crop = _padded(box, radius, array.shape)
    mask = array[crop] == label_id
    eroded = ndimage.binary_erosion(mask, structure=np.ones([2 * r + 1 for r in radius], bool), border_value=1)
    coords = np.nonzero(eroded if eroded.any() else mask)
    return np.array([np.mean(c + s.start) for c, s in zip(coords, crop)])


def _axis(candidates: Sequence[_Candidate], index: int) -> np.ndarray:
    """The unit height axis from the neighbours' centroids (voxel units)."""
    prev = candidates[index - 1].centroid if index > 0 else None
    nxt = candidates[index + 1].centroid if index < len(candidates) - 1 else None
    here = candidates[index].centroid
    if prev is not None and nxt is not None:
        axis = nxt - prev
    elif prev is not None:
        axis = here - prev
    elif nxt is not None:
        axis = nxt - here
    else:
        axis = np.array([0, 0, 1])
    return axis / np.linalg.norm(axis)


def _ellipsoid(spacing: Sequence[float], mm: float) -> np.ndarray:
    """The official erosion ellipsoid: an open grid from -r to r + 1 (r = mm / spacing, not rounded)."""
    r = [mm / s for s in spacing]
    x, y, z = np.ogrid[-r[0]:r[0] + 1, -r[1]:r[1] + 1, -r[2]:r[2] + 1]
    return x * x / (r[0] ** 2) + y * y / (r[1] ** 2) + z * z / (r[2] ** 2) <= 1


def _intensity(ct: np.ndarray, array: np.ndarray, cand: _Candidate,
               label_spacing: Sequence[float]) -> tuple[float, float]:
    structure = _ellipsoid(label_spacing, INTENSITY_EROSION_MM)
    crop = _padded(cand.box, structure.shape, array.shape)
    eroded = ndimage.binary_erosion(array[crop] == cand.label_id, structure=structure)
    if not eroded.any():
        return 0.0, 0.0
    values = np.asarray(ct[crop], dtype=np.float64)[eroded]
    return float(np.mean(values)), float(np.median(values))


def _measure(ct: np.ndarray, array: np.ndarray, cand: _Candidate, axis: np.ndarray, ct_spacing: Sequence[float],
             label_spacing: Sequence[float]) -> Vertebra:
    voxel_mm3 = float(np.float32(ct_spacing[0]) * np.float32(ct_spacing[1]) * np.float32(ct_spacing[2]))
    mask_box = array[cand.box] == cand.label_id
    mean_hu, median_hu = _intensity(ct, array, cand, label_spacing)
    x_slice, heights = _best_slice(array, cand, axis, ct_spacing)
    return Vertebra(cand.name, cand.label_id, heights, x_slice, tuple(float(c) for c in cand.centroid),
                    float(np.count_nonzero(mask_box)) * voxel_mm3, mean_hu, median_hu)


def _depth_axis(axis: np.ndarray, spacing: Sequence[float]) -> tuple[float, float]:
    """The in-plane perpendicular of the height axis, taken in mm and returned in voxel units."""
    sy, sz = spacing[1], spacing[2]
    return (-(axis[2] * sz)) / sy, (axis[1] * sy) / sz


def _best_slice(array: np.ndarray, cand: _Candidate, axis: np.ndarray,
                spacing: Sequence[float]) -> tuple[int, tuple[HeightLine, ...]]:
    """The scanned slice with all three heights positive and the largest spread (the first of equals)."""
    radius = _box_radius(spacing, CENTROID_EROSION_MM)
    crop = _padded(cand.box, radius, array.shape)
    eroded = ndimage.binary_erosion(array[crop] == cand.label_id, structure=np.ones([2 * r + 1 for r in radius], bool),
                                    border_value=1)
    xs = np.nonzero(eroded.any(axis=(1, 2)))[0] + crop[0].start
    depth = _depth_axis(axis, spacing)
    measure = dict(centre_yz=(cand.centroid[1], cand.centroid[2]), height_axis_yz=(axis[1], axis[2]),
                   horizontal_axis_yz=depth, spacing_yz=(spacing[1], spacing[2]))
    best, best_spread = None, -1.0
    if xs.size:
        x_min, x_max = int(xs[0]), int(xs[-1])
        margin = int(round(SCAN_MARGIN * (x_max - x_min + 1)))
        last = array.shape[0] - 1
        start, stop = min(last, max(0, x_min + margin)), min(last, max(0, x_max - margin))
        for x in range(start, stop + 1, max(1, int(round(SCAN_STEP_MM / spacing[0])))):
            lines = three_heights(array[x] == cand.label_id, **measure)
            heights = [line.height_mm for line in lines]
            if all(h > 0 for h in heights) and max(heights) - min(heights) > best_spread:
                best, best_spread = (x, lines), max(heights) - min(heights)
    if best is None:
        x = max(0, min(int(round(cand.centroid[0])), array.shape[0] - 1))
        best = (x, three_heights(array[x] == cand.label_id, **measure))
    return best
