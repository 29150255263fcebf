"""A landmark's cross-section turned flat and measured, as the official report measures it.

The cut (a few voxels thick) is cropped to a cube around its centre (``1.4 x`` the largest landmark
diameter), the cube is rotated about the cut's centre so that the cut's normal (least-variance
direction) becomes the grid's z axis, and the cut, the lumens and the CT are resampled onto the
cube's grid (nibabel ``resample_from_to``; order 0 for masks). The axial slice through the cut's
centre, closed once and holes filled, gives the area and the diameters; the end points are mapped
back to world coordinates (mm). The cube and the rotation are :mod:`totalseg.reports.oblique_grid`'s,
shared with the pulmonary report.
"""

from __future__ import annotations

from dataclasses import dataclass

import nibabel as nib
import numpy as np
from nibabel.processing import resample_from_to
from scipy import ndimage

from totalseg.reports.chords import plane_diameters
from totalseg.reports.oblique_grid import fixed_box, half_box_voxels, section_rotation
from totalseg.reports.sections import find_center, mask_normal


@dataclass(frozen=True)
class FlatSection:
    """One landmark's flattened slice: masks (uint8, 2-D), CT slice, pixel size, slice index, back-mapping."""

    cut: np.ndarray
    false_lumen: np.ndarray
    true_lumen: np.ndarray
    ct: np.ndarray | None
    pixel_mm: np.ndarray
    z: int
    to_world: np.ndarray


def flatten(cut: np.ndarray, affine: np.ndarray, zooms, *, false_lumen: np.ndarray, true_lumen: np.ndarray,
            ct: np.ndarray | None, size_mm: float) -> FlatSection:
    """The flattened slice of a landmark's ``cut`` (uint8 on the grid ``affine``).

    Examples:
        >>> cut = np.zeros((30, 30, 30), np.uint8); cut[5:25, 5:25, 14:17] = 1
        >>> none = np.zeros_like(cut)
        >>> flat = flatten(cut, np.eye(4), (1.0, 1.0, 1.0), false_lumen=none, true_lumen=cut, ct=None, size_mm=28)
        >>> flat.z, int(flat.cut.sum()), int(flat.true_lumen.sum())
        (14, 400, 400)
    """
    box = fixed_box(cut, half_box_voxels(size_mm, zooms))
    crop_affine = affine.copy()
    crop_affine[:3, 3] = (affine @ np.array([b.start for b in box] + [1]))[:3]
    cropped = cut[box].astype(np.float64)
    combined = section_rotation(find_center(cropped), mask_normal(cropped), crop_affine)
    moved = combined @ crop_affine
    grid = nib.Nifti1Image(np.zeros(cropped.shape, np.uint8), crop_affine)

    def turn(data: np.ndarray, order: int) -> np.ndarray:
        return resample_from_to(nib.Nifti1Image(data, moved), grid, order=order).get_fdata()

    flat = turn(cropped, 0).astype(np.uint8)
    middle = find_center(flat)
    z = int(np.round(middle).astype(np.int32)[2]) if middle is not None else flat.shape[2] // 2
    layers = [flat] + [turn(((cut > 0) & (m > 0))[box].astype(np.float64), 0).astype(np.uint8)
                       for m in (false_lumen, true_lumen)]
    cut2d, false2d, true2d = (ndimage.binary_fill_holes(ndimage.binary_closing(v[:, :, z])).astype(np.uint8)
                              for v in layers)
    ct2d = turn(ct[box].astype(np.int32).astype(np.float64), 1)[:, :, z] if ct is not None else None
    pixel = np.asarray(grid.header.get_zooms())[:2]
    return FlatSection(cut2d, false2d, true2d, ct2d, pixel, z, np.linalg.inv(combined) @ crop_affine)


def measure(section: FlatSection) -> dict:
    """The official per-landmark numbers of a flattened slice (cm, cm^2, end points in mm and voxels).

    Examples:
        >>> disk = (np.hypot(*np.indices((41, 41)) - 20) <= 15).astype(np.uint8)
        >>> none = np.zeros_like(disk)
        >>> numbers = measure(FlatSection(disk, none, disk, None, np.array([1.0, 1.0]), 0, np.eye(4)))
        >>> numbers["diameter"], numbers["area"], numbers["diameter_fl"], numbers["start_voxel"]
        (3.0, 7.1, 0.0, [5, 20, 0])
    """
    out = {}
    for key, data in (("area", section.cut), ("area_fl", section.false_lumen), ("area_tl", section.true_lumen)):
        out[key] = float((data.sum() * np.prod(section.pixel_mm) / 100).round(1))
    diameter, perpendicular, voxels, world = _diameters(section.cut, section)
    out["diameter"], out["diameter_pd"] = diameter, perpendicular
    for i, key in enumerate(("start", "end", "start_pd", "end_pd")):
        out[key] = world[i] if world else None
    for i, key in enumerate(("start_voxel", "end_voxel", "start_pd_voxel", "end_pd_voxel")):
        out[key] = voxels[i] if voxels else None
    for suffix, data in (("fl", section.false_lumen), ("tl", section.true_lumen)):
        d, pd, _, _ = _diameters(data, section)
        out[f"diameter_{suffix}"], out[f"diameter_{suffix}_pd"] = d, pd
    return out


def _diameters(mask: np.ndarray, section: FlatSection):
    """(diameter cm, perpendicular cm, voxel end points, world end points) of a 2-D mask, official rounding."""
    if mask.sum() < 5:
        return 0.0, 0.0, None, None
    diameter, perpendicular, major, chord = plane_diameters(mask, section.pixel_mm)
    if major is None or chord is None:
        return 0.0, 0.0, None, None
    voxels = [list(map(int, p.tolist())) + [int(section.z)] for p in (*major, *chord)]
    world = [(section.to_world[:3, :3] @ p + section.to_world[:3, 3]).round(4).tolist() for p in voxels]
    return float(np.round(diameter / 10, 1)), float(np.round(perpendicular / 10, 1)), voxels, world
