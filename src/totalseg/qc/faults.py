"""Faults injected into a clean segmentation, each of a kind the QC must catch; the benchmark's
faulted cases and the tests' firing cases. Each fault takes (image, labels, classes, rng) and returns
a new (image, labels); nothing is changed in place."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.qc.reference import EXPECTED_AT, VERTEBRAE
from totalseg.qc.structures import world_axis_of_voxels

Fault = Callable[[Volume, LabelVolume, dict, np.random.Generator], tuple[Volume, LabelVolume]]
ORGANS = ("liver", "spleen", "kidney_left", "kidney_right")


def _ids(classes: dict[int, str]) -> dict[str, int]:
    return {v: k for k, v in classes.items()}


def _relabel(labels: LabelVolume, table: dict[int, int]) -> LabelVolume:
    lut = np.arange(256, dtype=np.uint8)
    for a, b in table.items():
        lut[a] = b
    return labels.with_data(lut[np.asarray(labels.array)])


def swap_left_right(image, labels, classes, rng):
    """Swap every ``*_left*`` label with its ``*_right*`` partner.

    Examples:
        >>> lab = LabelVolume(np.array([[[1, 2]]], np.uint8), affine=np.eye(4))
        >>> swap_left_right(None, lab, {1: "kidney_left", 2: "kidney_right"}, None)[1].array.tolist()
        [[[2, 1]]]
    """
    ids = _ids(classes)
    table = {}
    for name, i in ids.items():
        partner = name.replace("_left", "_right") if "_left" in name else name.replace("_right", "_left")
        if partner != name and partner in ids:
            table[i] = ids[partner]
    return image, _relabel(labels, table)


def _flip(vol: Volume, world_axis: int) -> Volume:
    axis = world_axis_of_voxels(vol.affine)[world_axis]
    return vol.with_data(np.ascontiguousarray(np.flip(np.asarray(vol.array), axis)))


def mirror_left_right(image, labels, classes, rng):
    """The image stored mirrored left-right with the affine unchanged, segmented as stored."""
    return _flip(image, 0), _flip(labels, 0)


def head_at_feet(image, labels, classes, rng):
    """The image stored upside down (head-feet) with the affine unchanged, segmented as stored."""
    return _flip(image, 2), _flip(labels, 2)


def front_back(image, labels, classes, rng):
    """The image stored with front and back swapped, the affine unchanged, segmented as stored."""
    return _flip(image, 1), _flip(labels, 1)


def image_flipped_under_labels(image, labels, classes, rng):
    """The image flipped head-feet or front-back while the labels stay: the masks miss the anatomy."""
    return _flip(image, int(rng.choice([1, 2]))), labels


def image_mirrored_under_labels(image, labels, classes, rng):
    """The image mirrored left-right under unchanged labels: only the off-centre organs (heart, liver,
    aorta) then lie on another tissue."""
    return _flip(image, 0), labels


def shift_vertebrae(image, labels, classes, rng):
    """Every vertebra labelled one level up or down (C1 shifted off is dropped, S1 down joins the sacrum)."""
    ids, d = _ids(classes), int(rng.choice([-1, 1]))
    table = {}
    for i, v in enumerate(VERTEBRAE):
        if v not in ids:
            continue
        j = i + d
        target = VERTEBRAE[j] if 0 <= j < len(VERTEBRAE) else ("sacrum" if j >= len(VERTEBRAE) else None)
        table[ids[v]] = ids.get(target, 0) if target else 0
    return image, _relabel(labels, table)


def shift_vertebrae_below_the_ribs(image, labels, classes, rng):
    """The image cropped below the lowest rib, then its vertebrae labelled one level off: nothing
    in the image tells the levels apart (a blind spot)."""
    ids = _ids(classes)
    array = np.asarray(labels.array)
    axis = world_axis_of_voxels(labels.affine)[2]
    ribs = np.isin(array, [i for n, i in ids.items() if n.startswith("rib_")])
    rib_planes = np.nonzero(ribs.any(axis=tuple(a for a in range(3) if a != axis)))[0]
    feet_low = labels.affine[2, axis] > 0  # index 0 is the feet's end
    keep = slice(0, rib_planes.min()) if feet_low else slice(rib_planes.max() + 1, array.shape[axis])
    index = tuple(keep if a == axis else slice(None) for a in range(3))
    affine = labels.affine.copy()
    affine[:3, 3] += affine[:3, axis] * keep.start
    image = image.with_data(np.ascontiguousarray(np.asarray(image.array)[index]), affine=affine)
    labels = labels.with_data(np.ascontiguousarray(array[index]), affine=affine)
    return shift_vertebrae(image, labels, classes, rng)


def crop_fov(image, labels, classes, rng):
    """Crop the image through the middle of a random organ along a random axis."""
    ids = _ids(classes)
    present = [o for o in ORGANS + ("heart", "lung_upper_lobe_left") if (np.asarray(labels.array) == ids[o]).any()]
    organ = str(rng.choice(present))
    centre = ndimage.center_of_mass(np.asarray(labels.array) == ids[organ])
    axis = int(rng.integers(0, 3))
    cut = int(round(centre[axis]))
    keep = slice(0, cut) if rng.random() < 0.5 else slice(cut, labels.shape[axis])
    index = tuple(keep if a == axis else slice(None) for a in range(3))
    affine = labels.affine.copy()
    affine[:3, 3] += affine[:3, axis] * keep.start
    return (image.with_data(np.ascontiguousarray(np.asarray(image.array)[index]), affine=affine),
            labels.with_data(np.ascontiguousarray(np.asarray(labels.array)[index]), affine=affine))


def add_fragments(image, labels, classes, rng):
    """One to three balls of 8-12 mm radius labelled as a structure, at least 40 mm from it."""
    array = np.asarray(labels.array).copy()
    ids = _ids(classes)
    name = str(rng.choice([n for n in ORGANS + ("vertebrae_L1", "lung_lower_lobe_left", "heart") if n in ids
                           and (array == ids[n]).any()]))
    spacing = np.array(labels.spacing_mm)
    far = ndimage.distance_transform_edt(array != ids[name], sampling=spacing) > 40
    body = np.asarray(image.array) > -500
    candidates = np.argwhere(far & body)
    grid = np.indices(array.shape, sparse=True)
    for _ in range(int(rng.integers(1, 4))):
        c = candidates[rng.integers(len(candidates))]
        r = rng.uniform(8, 12)
        ball = sum(((g - ci) * s) ** 2 for g, ci, s in zip(grid, c, spacing)) <= r * r
        array[ball] = ids[name]
    return image, labels.with_data(array)


def scale_organ(image, labels, classes, rng):
    """Grow an organ's mask by 1.5 or shrink it by 0.6 in each direction (about 3.4 or 0.22 times the volume)."""
    array = np.asarray(labels.array).copy()
    ids = _ids(classes)
    organ = str(rng.choice([o for o in ORGANS if (array == ids[o]).any()]))
    factor = float(rng.choice([0.6, 1.5]))
    mask = array == ids[organ]
    centre = np.array(ndimage.center_of_mass(mask))
    coords = np.indices(array.shape, dtype=np.float32)
    source = centre[:, None, None, None] + (coords - centre[:, None, None, None]) / factor
    scaled = ndimage.map_coordinates(mask.astype(np.uint8), source, order=0, mode="constant") > 0
    array[mask] = 0
    array[scaled] = ids[organ]
    return image, labels.with_data(array)


def remove_organ(image, labels, classes, rng):
    """Remove one structure that the covered levels require (an organ, lung lobe, rib, muscle)."""
    array = np.asarray(labels.array).copy()
    ids = _ids(classes)
    present = [n for n in EXPECTED_AT if n in ids and (array == ids[n]).any()]
    array[array == ids[str(rng.choice(present))]] = 0
    return image, labels.with_data(array)


def blank_image(image, labels, classes, rng):
    """The image replaced by air: constant, or noise around -1000 HU."""
    noise = rng.normal(0, 10, image.shape) if rng.random() < 0.5 else 0.0
    return image.with_data((np.full(image.shape, -1000.0) + noise).astype(np.int16)), labels


def padding_cuts_anatomy(image, labels, classes, rng):
    """Padding (-3024 HU) outside a reconstruction circle that cuts the body."""
    lab = np.asarray(labels.array) > 0
    vox = np.indices(image.shape).reshape(3, -1).T
    world = vox @ labels.affine[:3, :3].T + labels.affine[:3, 3]
    inside = np.argwhere(lab) @ labels.affine[:3, :3].T + labels.affine[:3, 3]
    centre = (inside.min(0) + inside.max(0)) / 2
    radius = 0.75 * (inside[:, 0].max() - inside[:, 0].min()) / 2
    outside = (((world[:, :2] - centre[:2]) ** 2).sum(1) > radius ** 2).reshape(image.shape)
    array = np.asarray(image.array).copy()
    array[outside] = -3024
    return image.with_data(array), labels


# fault name -> (function, the check it targets)
FAULTS: dict[str, tuple[Fault, str]] = {
    "swap_left_right": (swap_left_right, "laterality"),
    "mirror_left_right": (mirror_left_right, "laterality"),
    "shift_vertebrae": (shift_vertebrae, "vertebra_order"),
    "crop_fov": (crop_fov, "field_of_view"),
    "add_fragments": (add_fragments, "fragmentation"),
    "scale_organ": (scale_organ, "volumes"),
    "image_flipped_under_labels": (image_flipped_under_labels, "intensities"),
    "image_mirrored_under_labels": (image_mirrored_under_labels, "intensities"),
    "remove_organ": (remove_organ, "expected_structures"),
    "head_at_feet": (head_at_feet, "input"),
    "front_back": (front_back, "input"),
    "blank_image": (blank_image, "input"),
    "padding_cuts_anatomy": (padding_cuts_anatomy, "input"),
}
BLIND_SPOTS: dict[str, tuple[Fault, str]] = {
    "shift_vertebrae_below_the_ribs": (shift_vertebrae_below_the_ribs, "vertebra_order"),
}
