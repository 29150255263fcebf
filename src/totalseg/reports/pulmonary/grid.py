"""The report's measuring grid: NIfTI crops, the 0.8 mm grid, resampling onto it, and the rotation of a
cross-section into an image plane, with the official pulmonary report's rules (the fixed box and the
rotation are :mod:`totalseg.reports.oblique_grid`'s, shared with the aorta report).

Every step works on ``nibabel`` images, as the official report's do, so that the voxels resampled
with ``nibabel.processing.resample_from_to`` (spline orders, integer outputs) are the same.

Examples:
    >>> img = nib.Nifti1Image(np.zeros((10, 10, 10), np.uint8), np.diag([2.0, 2, 2, 1]))
    >>> zoom_to_spacing(img, 0.8).shape
    (25, 25, 25)
"""

from __future__ import annotations

from collections.abc import Sequence

import nibabel as nib
import numpy as np
from nibabel.processing import resample_from_to
from scipy import ndimage

from totalseg.engine.postprocess import keep_largest_blob
from totalseg.reports.oblique_grid import fixed_box, section_rotation
from totalseg.reports.sections import find_center, mask_normal


def header_zooms(img: nib.Nifti1Image) -> np.ndarray:
    """The first three header zooms (float32), as the official code reads voxel sizes.

    Examples:
        >>> header_zooms(nib.Nifti1Image(np.zeros((2, 2, 2)), np.diag([0.8, 0.8, 2.0, 1]))).tolist()
        [0.800000011920929, 0.800000011920929, 2.0]
    """
    return np.asarray(img.header.get_zooms()[:3])


def largest_blob(data: np.ndarray) -> np.ndarray:
    """The largest 6-connected component as uint8; the input unchanged when it has no foreground.

    Examples:
        >>> largest_blob(np.array([1, 0, 1, 1])).tolist()
        [0, 0, 1, 1]
    """
    if not np.any(data):
        return data
    return keep_largest_blob(data).astype(np.uint8)


def crop_box(img: nib.Nifti1Image, box: Sequence[Sequence[int]], dtype) -> nib.Nifti1Image:
    """The image cut to ``box`` (``[[lo, hi]] * 3`` voxel indices), its affine moved, data as ``dtype``.

    Examples:
        >>> img = nib.Nifti1Image(np.zeros((10, 10, 10)), np.diag([2.0, 2, 2, 1]))
        >>> cut = crop_box(img, [[2, 5], [0, 10], [1, 3]], np.uint8)
        >>> cut.shape, cut.affine[:3, 3].tolist()
        ((3, 10, 2), [4.0, 0.0, 2.0])
    """
    data = img.get_fdata()[box[0][0]:box[0][1], box[1][0]:box[1][1], box[2][0]:box[2][1]]
    affine = np.copy(img.affine)
    affine[:3, 3] = (affine @ np.array([box[0][0], box[1][0], box[2][0], 1]))[:3]
    return nib.Nifti1Image(data.astype(dtype), affine)


def crop_to_masks(img: nib.Nifti1Image, masks: Sequence[nib.Nifti1Image], margin_mm: Sequence[float], *,
                  dtype, fixed_size: bool = False) -> nib.Nifti1Image:
    """Crop ``img`` to the union of ``masks`` (> 0.5) plus ``margin_mm`` (whole voxels), or, with
    ``fixed_size``, to a box of ``margin_mm`` around the union's integer mean index.

    Examples:
        >>> img = nib.Nifti1Image(np.zeros((20, 20, 20), np.uint8), np.eye(4))
        >>> m = np.zeros((20, 20, 20), np.uint8); m[8:10, 8:10, 8:10] = 1
        >>> crop_to_masks(img, [nib.Nifti1Image(m, np.eye(4))], [3, 3, 3], dtype=np.uint8).shape
        (8, 8, 8)
    """
    margin = (np.asarray(margin_mm) / header_zooms(img)).astype(int)
    union = np.zeros(masks[0].shape, dtype=np.uint8)
    for mask in masks:
        union[np.asanyarray(mask.dataobj) > 0.5] = 1
    if union.shape != img.shape or not np.allclose(masks[0].affine, img.affine):
        union = resample_from_to(nib.Nifti1Image(union, masks[0].affine), img, order=0).get_fdata(
            dtype=np.float32)
    if fixed_size:
        box = fixed_box(union, (margin / 2).astype(int))
        return crop_box(img, [[b.start, b.stop] for b in box], dtype)
    return crop_box(img, _bounding_box(union, margin), dtype)


def _bounding_box(union: np.ndarray, margin: np.ndarray) -> list[list[int]]:
    if not (union > 0).any():
        return [[0, size] for size in union.shape]
    coords = np.where(union > 0)
    return [[max(0, int(np.min(coords[a])) - int(margin[a])),
             min(union.shape[a], int(np.max(coords[a])) + 1 + int(margin[a]))] for a in range(3)]


def zoom_to_spacing(img: nib.Nifti1Image, spacing_mm: float, *, order: int = 0) -> nib.Nifti1Image:
    """The image on an isotropic ``spacing_mm`` grid by ``scipy.ndimage.zoom`` (mode ``nearest``), the
    affine's columns scaled; float64 data; the image itself when already on that spacing."""
    old = header_zooms(img)
    new = np.array([spacing_mm] * 3)
    if np.array_equal(old, new):
        return img
    zoom = old / new
    affine = np.copy(img.affine)
    for axis in range(3):
        affine[:3, axis] = affine[:3, axis] / zoom[axis]
    data = ndimage.zoom(img.get_fdata(), zoom, mode="nearest", order=order)
    return nib.Nifti1Image(data, affine)


def resample_onto(img: nib.Nifti1Image, reference: nib.Nifti1Image, *, order: int, is_mask: bool) -> np.ndarray:
    """``img`` resampled onto ``reference``'s grid (world coordinates, spline ``order``); a mask is
    thresholded at 0.5 and cut to its largest component (uint8), an image kept as float32.

    Examples:
        >>> m = np.zeros((4, 4, 4), np.uint8); m[0, 0, 0] = 1; m[2:4, 2:4, 2:4] = 1
        >>> ref = nib.Nifti1Image(np.zeros((8, 8, 8)), np.diag([0.5, 0.5, 0.5, 1]))
        >>> int(resample_onto(nib.Nifti1Image(m, np.eye(4)), ref, order=0, is_mask=True).sum())
        64
    """
    data = resample_from_to(img, reference, order=order).get_fdata(dtype=np.float32)
    if is_mask:
        return largest_blob(data > 0.5).astype(np.uint8, copy=False)
    return data


def rotate_into_plane(plane: nib.Nifti1Image, ct: nib.Nifti1Image, *, margin_mm: float
                      ) -> tuple[nib.Nifti1Image, nib.Nifti1Image, np.ndarray]:
    """The cross-section ``plane`` and the CT in a box of ``margin_mm`` around it, rotated so that the
    plane's normal becomes the third voxel axis: (plane, CT (spline order 3 of int32 values),
    the rotated box's voxel-to-mm affine)."""
    addon = [margin_mm] * 3
    mask_box = crop_to_masks(plane, [plane], addon, dtype=np.uint8, fixed_size=True)
    ct_box = crop_to_masks(ct, [plane], addon, dtype=np.int32, fixed_size=True)
    data = mask_box.get_fdata()
    centre_vox = find_center(data)
    normal_vox = np.array([0.0, 0.0, 1.0]) if centre_vox is None else mask_normal(data)
    if centre_vox is None:
        centre_vox = (np.asarray(data.shape) - 1) / 2
    rotation = section_rotation(centre_vox, normal_vox, mask_box.affine)
    rotated_affine = rotation @ mask_box.affine
    inverse_affine = np.linalg.inv(rotation) @ mask_box.affine

    def rotate(img: nib.Nifti1Image, order: int) -> nib.Nifti1Image:
        return resample_from_to(nib.Nifti1Image(img.get_fdata(), rotated_affine), mask_box, order=order)

    return rotate(mask_box, 0), rotate(ct_box, 3), inverse_affine
