"""Landmark diameters of the pulmonary artery, with the official pulmonary report's semantics.

The grid is the landmark masks' grid cut to the pulmonary artery (largest component) plus 20 mm and
resampled to 0.8 mm (nearest). On it, each landmark gives a plane: the proximal MPA landmark is its
own cross-section; the others cut the filled pulmonary artery along their mask's least-spread
direction. Each cross-section is rotated into an image plane (CT by cubic spline), and its area
(cm^2, holes filled), largest diameter and the diameter perpendicular to it (cm) are measured on the
slice through its centre.

Examples:
    >>> m = measure_landmark_plane(np.ones((9, 9), np.uint8), (1.0, 1.0), np.eye(4), z=0)
    >>> m["area"], m["diameter"], m["diameter_pd"]
    (0.8, 1.1, 1.1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nibabel as nib
import numpy as np
from scipy.ndimage import binary_fill_holes

from totalseg.reports.chords import major_diameter_mm, plane_diameters
from totalseg.reports.pulmonary.grid import (
    crop_to_masks,
    header_zooms,
    largest_blob,
    resample_onto,
    rotate_into_plane,
    zoom_to_spacing,
)
from totalseg.reports.pulmonary.landmarks import CROP_MARGIN_MM, GRID_SPACING_MM, LANDMARKS
from totalseg.reports.sections import find_center, mask_normal, plane_cut

_METRICS = ("area", "diameter", "diameter_pd", "start", "end", "start_pd", "end_pd")
# how far around a cross-section the rotated box reaches, in multiples of the largest first diameter
_BOX_FACTOR = 1.4


@dataclass
class ReportGrid:
    """The report's measuring grid and everything resampled onto it.

    Attributes:
        reference: the 0.8 mm grid (the landmark grid cut to the pulmonary artery).
        ct: the CT on that grid (float32, cubic spline).
        artery: the pulmonary artery, largest component, holes filled (uint8).
        landmarks: landmark id -> its mask on the grid (uint8, largest component), for the given ones.
    """

    reference: nib.Nifti1Image
    ct: nib.Nifti1Image
    artery: np.ndarray
    landmarks: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def spacing_mm(self) -> np.ndarray:
        return header_zooms(self.reference)


def build_grid(ct: nib.Nifti1Image, artery: nib.Nifti1Image, landmarks: dict[int, nib.Nifti1Image]) -> ReportGrid:
    """Resample the CT, the pulmonary artery and the landmark masks onto the report grid.

    The grid follows the proximal MPA (annulus) mask's file, as the official report; when it is not
    given, the first given landmark's, else the artery's.
    """
    source = landmarks.get(1) or next(iter(landmarks.values()), artery)
    source = nib.as_closest_canonical(source)
    artery_canonical = nib.as_closest_canonical(artery)
    artery_main = nib.Nifti1Image(largest_blob(artery_canonical.get_fdata(dtype=np.float32)),
                                  artery_canonical.affine)
    cropped = crop_to_masks(source, [artery_main], [CROP_MARGIN_MM] * 3, dtype=np.uint8)
    reference = zoom_to_spacing(cropped, GRID_SPACING_MM, order=0)
    ct_data = resample_onto(ct, reference, order=3, is_mask=False)
    ct_img = nib.Nifti1Image(ct_data, reference.affine)
    artery_data = binary_fill_holes(resample_onto(artery, reference, order=0, is_mask=True)).astype(np.uint8)
    masks = {index: resample_onto(img, reference, order=3, is_mask=True) for index, img in landmarks.items()}
    return ReportGrid(reference=reference, ct=ct_img, artery=artery_data, landmarks=masks)


def landmark_planes(grid: ReportGrid) -> tuple[dict[int, np.ndarray], dict[int, tuple[int, ...]], dict[int, str]]:
    """Each landmark's cross-section on the grid, its centre voxel, and why a landmark has none."""
    planes: dict[int, np.ndarray] = {}
    centres: dict[int, tuple[int, ...]] = {}
    reasons: dict[int, str] = {}
    for lm in LANDMARKS:
        data = grid.landmarks.get(lm.index)
        if data is None:
            continue
        if not data.any():
            reasons[lm.index] = f"the {lm.name} mask is empty (the landmark was not found in the image)"
            continue
        point = tuple(find_center(data, integer=True))
        centres[lm.index] = point
        plane = data if lm.index == 1 else plane_cut(grid.artery, point, mask_normal(data))
        if plane.sum() == 0:
            reasons[lm.index] = (f"the plane through the {lm.name} landmark does not cut the pulmonary artery "
                                 "mask (artery cut off or landmark outside it)" if grid.artery.any() else
                                 "the pulmonary artery mask is empty on the report grid (not segmented, or "
                                 "outside the landmarks' image)")
            continue
        planes[lm.index] = plane
    return planes, centres, reasons


def first_diameter_mm(plane: np.ndarray, spacing_mm: np.ndarray) -> float:
    """The first region's boundary diameter of a 3-D cross-section in mm (0 when there is none).

    Examples:
        >>> p = np.zeros((5, 5, 5), np.uint8); p[1:4, 2, 2] = 1
        >>> first_diameter_mm(p, np.array([0.8, 0.8, 0.8]))
        1.6
    """
    return major_diameter_mm(plane, spacing_mm) or 0.0


def measure_landmark_plane(slice_mask: np.ndarray, spacing_mm, inverse_affine: np.ndarray, *, z: int) -> dict:
    """Area (cm^2), diameters (cm) and end points (mm; voxel indices ``+ [z]``) of one slice's section.

    The area counts the slice's voxels after filling holes; the diameters are those of
    :func:`plane_diameters` (0 with fewer than 5 voxels or without a perpendicular chord).
    """
    filled = binary_fill_holes(slice_mask).astype(np.uint8)
    spacing = np.asarray(spacing_mm)
    result: dict[str, object] = {"area": (filled.sum() * np.prod(spacing) / 100).round(1)}
    diameter = perpendicular = 0.0
    ends = None
    if filled.sum() >= 5:
        d, pd, major, minor = plane_diameters(filled, spacing)
        if major is not None and minor is not None:
            diameter, perpendicular = d, pd
            ends = [p.tolist() + [int(z)] for p in (*major, *minor)]
    result["diameter"] = float((np.asarray(diameter) / 10).round(1))
    result["diameter_pd"] = float((np.asarray(perpendicular) / 10).round(1))
    names = ("start", "end", "start_pd", "end_pd")
    mm = [None] * 4 if ends is None else [
        (inverse_affine[:3, :3] @ p + inverse_affine[:3, 3]).round(4).tolist() for p in ends]
    result.update(zip(names, mm))
    result.update(zip((f"{n}_voxel" for n in names), ends if ends is not None else [None] * 4))
    result["area"] = float(result["area"])
    return result


def measure_plane(plane: np.ndarray, grid: ReportGrid, max_diameter_mm: float) -> tuple[dict, dict]:
    """One landmark's measurements and the images of its rotated slice (``ct``, ``mask``; 2-D)."""
    plane_img = nib.Nifti1Image(plane, grid.reference.affine)
    plane_2d, ct_2d, inverse_affine = rotate_into_plane(plane_img, grid.ct, margin_mm=max_diameter_mm * _BOX_FACTOR)
    data = plane_2d.get_fdata().astype(np.uint8)
    centre = find_center(data, integer=True)
    if centre is None:
        return {}, {}
    z = int(centre[2])
    spacing = np.asarray(plane_2d.header.get_zooms())[:2]
    result = measure_landmark_plane(data[:, :, z], spacing, inverse_affine, z=z)
    return result, {"ct": ct_2d.get_fdata()[:, :, z], "mask": data[:, :, z], "spacing": spacing}


def measure_landmarks(grid: ReportGrid) -> tuple[dict[int, dict], dict[int, str], dict[int, dict], dict[int, list]]:
    """Measurements of the landmarks with a cross-section, reasons for those without, slice images,
    and the centre voxel of each non-empty landmark mask."""
    planes, centres, reasons = landmark_planes(grid)
    max_diameter = max([first_diameter_mm(p, grid.spacing_mm) for p in planes.values()], default=0.0)
    results: dict[int, dict] = {}
    slices: dict[int, dict] = {}
    for index, plane in planes.items():
        result, images = measure_plane(plane, grid, max_diameter)
        if not result:
            reasons[index] = "the rotated cross-section is empty (the section is smaller than one voxel)"
            continue
        results[index], slices[index] = result, images
    return results, reasons, slices, {i: [int(v) for v in c] for i, c in centres.items()}
