"""The report's masks on its reference grid, loaded with the official report's rules.

The official report measures on one grid: the annulus mask (or, without it, the aorta mask) in RAS,
cropped to the aorta's largest blob plus 20 mm and resampled to 0.8 mm (order 0). Every other mask
is resampled onto that grid (order 0; the true/false lumen order 3) and reduced to its largest
6-connected blob. The lumen masks are used only when the true lumen mask exists and the contrast
phase is not ``native``; the aorta then is the union of the aorta and both lumens, holes filled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import nibabel as nib
import numpy as np
from nibabel.processing import resample_from_to
from scipy import ndimage

from totalseg.engine.postprocess import keep_largest_blob, remove_small_blobs
from totalseg.imaging.resample import resample_to_spacing
from totalseg.imaging.volume import Volume
from totalseg.reports.aorta.definitions import (
    ANNULUS,
    AORTA,
    CROP_MARGIN_MM,
    FALSE_LUMEN,
    GRID_MM,
    STRUCTURES,
    TRUE_LUMEN,
)


@dataclass
class ReportData:
    """Everything the measurements read, on the reference grid (arrays are uint8 unless noted).

    Attributes:
        reference: the reference grid as an (empty-data) NIfTI image; its affine and header zooms.
        spacing: the grid's voxel sizes as the header stores them (float32).
        aorta: the aorta (with both lumens, holes filled): centerline and landmark planes.
        aorta_sections: the aorta with both lumens, holes not filled (the official ``aorta_img``).
        aorta_total: the aorta mask alone, holes filled (the whole-aorta volume).
        true_lumen, false_lumen: the lumens (the true lumen is the aorta without the false lumen).
        annulus: the annulus after one closing (bool); annulus_volume_mm3 its volume before closing.
        structures: anchor key -> mask (zeros where the mask is missing).
        missing: anchor keys (and ``annulus``) whose mask file was not given.
        ct: the CT on the grid (float32, linear interpolation; for pictures only), or None.
        lumen_note: why the lumen masks were not used, or empty.
    """

    reference: nib.Nifti1Image
    spacing: tuple
    aorta: np.ndarray
    aorta_sections: np.ndarray
    aorta_total: np.ndarray
    true_lumen: np.ndarray
    false_lumen: np.ndarray
    annulus: np.ndarray
    annulus_volume_mm3: float
    structures: dict[str, np.ndarray]
    missing: set[str] = field(default_factory=set)
    ct: np.ndarray | None = None
    lumen_note: str = ""


def reference_grid(aorta: nib.Nifti1Image, annulus: nib.Nifti1Image | None) -> tuple[nib.Nifti1Image, np.ndarray]:
    """The reference grid image and the (source) annulus data on it (zeros without an annulus).

    Examples:
        >>> m = np.zeros((40, 40, 40), np.uint8); m[15:25, 15:25, 5:35] = 1
        >>> ref, ann = reference_grid(nib.Nifti1Image(m, np.diag([1.6, 1.6, 1.6, 1])), None)
        >>> [round(float(z), 3) for z in ref.header.get_zooms()], ann.shape == ref.shape
        ([0.8, 0.8, 0.8], True)
    """
    source = nib.as_closest_canonical(annulus if annulus is not None else aorta)
    aorta_canonical = nib.as_closest_canonical(aorta)
    blob = keep_largest_blob(aorta_canonical.get_fdata(dtype=np.float32) != 0).astype(np.float32)
    if blob.shape != source.shape or not np.allclose(aorta_canonical.affine, source.affine):
        blob = resample_from_to(nib.Nifti1Image(blob, aorta_canonical.affine), source, order=0)
        blob = blob.get_fdata(dtype=np.float32)
    margin = (np.asarray([CROP_MARGIN_MM] * 3) / source.header.get_zooms()[:3]).astype(int)
    box = _bbox(blob > 0, margin)
    data = np.asarray(source.get_fdata())[box].astype(np.uint8) if annulus is not None \
        else np.zeros([b.stop - b.start for b in box], np.uint8)
    affine = source.affine.copy()
    affine[:3, 3] = (source.affine @ np.array([b.start for b in box] + [1]))[:3]
    resampled = resample_to_spacing(Volume(data, affine=affine), spacing_mm=GRID_MM, order=0, dtype=np.float64)
    return nib.Nifti1Image(np.zeros(resampled.shape, np.uint8), resampled.affine), resampled.array.astype(np.float32)


def _bbox(mask: np.ndarray, margin: np.ndarray) -> tuple[slice, ...]:
    if not mask.any():
        return tuple(slice(0, s) for s in mask.shape)
    box = []
    for axis in range(3):
        hits = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        box.append(slice(max(0, int(hits[0]) - int(margin[axis])),
                         min(mask.shape[axis], int(hits[-1]) + 1 + int(margin[axis]))))
    return tuple(box)


def on_grid(image: nib.Nifti1Image | None, reference: nib.Nifti1Image, *, order: int = 0) -> np.ndarray:
    """A mask on the reference grid: resampled, thresholded at 0.5, largest blob (uint8); zeros if None.

    Examples:
        >>> m = np.zeros((10, 10, 10), np.uint8); m[2:4, 2:4, 2:4] = 1; m[7, 7, 7] = 1
        >>> reference = nib.Nifti1Image(np.zeros((20, 20, 20), np.uint8), np.diag([0.5, 0.5, 0.5, 1]))
        >>> int(on_grid(nib.Nifti1Image(m, np.eye(4)), reference).sum()), int(on_grid(None, reference).sum())
        (64, 0)
    """
    if image is None:
        return np.zeros(reference.shape, np.uint8)
    data = resample_from_to(image, reference, order=order).get_fdata(dtype=np.float32)
    return keep_largest_blob(data > 0.5).astype(np.uint8)


def load_report_data(masks: Mapping[str, nib.Nifti1Image], *, ct: nib.Nifti1Image | None = None,
                     phase: str | None = None, skip_dissection: bool = False) -> ReportData:
    """The report's inputs from masks by name (``aorta``, ``annulus_proper``, ...; missing = absent).

    Raises:
        KeyError: without an ``aorta`` mask (the caller checks first and says what to pass).

    Examples:
        >>> from totalseg.reports.aorta.phantom import straight_tube
        >>> data = load_report_data(straight_tube(diameter_mm=20))
        >>> sorted(data.missing), data.lumen_note[:26]
        (['annulus', 'brachio', 'celiac', 'sinotub_junc', 'subclavian'], 'no true/false lumen masks ')
    """
    reference, annulus_source = reference_grid(masks[AORTA.mask], masks.get(ANNULUS.mask))
    spacing = reference.header.get_zooms()
    aorta = on_grid(masks[AORTA.mask], reference)
    aorta_total = ndimage.binary_fill_holes(aorta).astype(np.uint8)
    true_lumen, false_lumen, note = _lumens(masks, reference, aorta, phase, skip_dissection)
    false_lumen = remove_small_blobs(false_lumen, min_voxels=20).astype(np.uint8)
    aorta_sections = aorta.copy()
    aorta_sections[true_lumen > 0.5] = 1
    aorta_sections[false_lumen > 0.5] = 1
    filled = ndimage.binary_fill_holes(aorta_sections).astype(np.uint8)
    true_lumen = filled.copy()
    true_lumen[false_lumen > 0.5] = 0
    structures = {key: on_grid(masks.get(s.mask), reference) for key, s in STRUCTURES.items()}
    missing = {key for key, s in STRUCTURES.items() if s.mask not in masks}
    if ANNULUS.mask not in masks:
        missing.add("annulus")
    ct_grid = resample_from_to(ct, reference, order=1).get_fdata(dtype=np.float32) if ct is not None else None
    return ReportData(
        reference=reference, spacing=spacing, aorta=filled, aorta_sections=aorta_sections, aorta_total=aorta_total,
        true_lumen=true_lumen, false_lumen=false_lumen, annulus=ndimage.binary_closing(annulus_source, iterations=1),
        annulus_volume_mm3=float(annulus_source.sum() * np.prod(spacing)), structures=structures, missing=missing,
        ct=ct_grid, lumen_note=note)


def _lumens(masks, reference, aorta, phase, skip_dissection) -> tuple[np.ndarray, np.ndarray, str]:
    if TRUE_LUMEN.mask not in masks:
        note = "no true/false lumen masks (aortic_dissection model): the whole aorta counts as true lumen"
    elif skip_dissection:
        note = "true/false lumen skipped on request: the whole aorta counts as true lumen"
    elif phase == "native":
        note = "native (non-contrast) phase: the true/false lumen masks are not used"
    else:
        return (on_grid(masks[TRUE_LUMEN.mask], reference, order=3),
                on_grid(masks.get(FALSE_LUMEN.mask), reference, order=3), "")
    return aorta.copy(), np.zeros_like(aorta), note
