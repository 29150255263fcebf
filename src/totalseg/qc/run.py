"""Every check on one case: :func:`run_qc`, the one call a segment run, a batch or the app makes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from totalseg.errors import InputError
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.qc.context import QcContext
from totalseg.qc.expected import check_expected_structures
from totalseg.qc.field_of_view import check_field_of_view
from totalseg.qc.fragmentation import check_fragmentation
from totalseg.qc.inputs import check_input
from totalseg.qc.intensities import check_intensities
from totalseg.qc.laterality import check_laterality
from totalseg.qc.report import QcReport
from totalseg.qc.vertebrae import check_vertebra_order
from totalseg.qc.volumes import body_surface_area_m2, check_volumes

_GRID_ATOL_MM = 1e-3


def run_qc(
    image: Volume, labels: LabelVolume, classes: dict[int, str], *, modality: str = "ct",
    slice_positions_mm: Sequence[float] | None = None, height_m: float | None = None,
    weight_kg: float | None = None,
) -> QcReport:
    """Run the eight checks (laterality, vertebra_order, field_of_view, fragmentation, volumes,
    intensities, expected_structures, input) on a segmentation of ``image``.

    Args:
        image: the image the labels were made from (CT in HU).
        labels: the labels on the image's grid (ids of ``classes``).
        classes: label id -> class name (a task's class map, e.g. ``class_map("total")``).
        modality: ``ct`` (absolute HU ranges) or ``mr`` (relative intensity checks only).
        slice_positions_mm: positions of the source slices along their normal, where known
            (DICOM), for the irregular-spacing check.
        height_m, weight_kg: the patient's, where known: the organ volume ranges are then scaled by
            the body surface area (both needed).

    Returns:
        The report; ``report.status`` is the worst check's.

    Raises:
        InputError: labels not on the image's grid, or an unknown modality.

    Examples:
        >>> img = Volume(np.random.default_rng(0).normal(0, 50, (8, 8, 8)), affine=np.eye(4))
        >>> report = run_qc(img, LabelVolume(np.zeros((8, 8, 8), np.uint8), affine=np.eye(4)), {1: "liver"})
        >>> [c.name for c in report.checks][:3], report.status
        (['laterality', 'vertebra_order', 'field_of_view'], 'ok')
    """
    if modality not in ("ct", "mr"):
        raise InputError(f"unknown modality {modality!r}; pass ct or mr")
    if labels.shape != image.shape or not np.allclose(labels.affine, image.affine, atol=_GRID_ATOL_MM):
        raise InputError(f"the segmentation's grid {labels.shape} differs from the image's {image.shape}; "
                         "pass labels on the image's grid")
    bsa = body_surface_area_m2(height_m, weight_kg) if height_m is not None and weight_kg is not None else None
    ctx = QcContext.build(image, labels, classes, modality)
    return QcReport((
        check_laterality(ctx), check_vertebra_order(ctx), check_field_of_view(ctx), check_fragmentation(ctx),
        check_volumes(ctx, bsa_m2=bsa), check_intensities(ctx), check_expected_structures(ctx),
        check_input(ctx, slice_positions_mm=slice_positions_mm),
    ))
