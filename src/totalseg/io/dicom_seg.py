"""Write a segmentation as one DICOM Segmentation object (binary SEG) with highdicom.

One segment per structure that has voxels, numbered 1..n in class-map order, each with the
SNOMED-CT category/type (and modifier/region) codes and the recommended display colour of the
official table. The SEG references every source slice, copies the patient and study modules of
the source and lives in the source's frame of reference; empty frames are omitted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from totalseg import __version__
from totalseg.anatomy.snomed import Code, structure_codes
from totalseg.errors import InputError, OutputError
from totalseg.imaging.volume import Volume
from totalseg.io.atomic import atomic_path
from totalseg.io.dicom import DicomSeries

MANUFACTURER = "totalseg"
SERIES_NUMBER = 100


def _highdicom():
    try:
        import highdicom
    except ImportError:
        raise OutputError("writing DICOM-SEG needs highdicom: pip install 'totalseg[dicom]'") from None
    return highdicom


def present_classes(labels: np.ndarray, classes: Mapping[int, str]) -> dict[int, str]:
    """The classes of ``classes`` that have at least one voxel in ``labels``, in map order.

    Examples:
        >>> present_classes(np.array([[[0, 2]]]), {1: "spleen", 2: "kidney_right"})
        {2: 'kidney_right'}
    """
    counts = np.bincount(labels.ravel().astype(np.int64, copy=False), minlength=max(classes, default=0) + 1)
    return {k: v for k, v in classes.items() if k < counts.size and counts[k] > 0}


def frames_of(labels: Volume | np.ndarray, series: DicomSeries) -> np.ndarray:
    """The label array as (slice, row, column) frames of ``series``; refuses another grid."""
    array = labels.array if isinstance(labels, Volume) else np.asarray(labels)
    if array.shape != series.volume.shape:
        raise InputError(
            f"the segmentation has shape {array.shape} but the DICOM series {series.description} has "
            f"{series.volume.shape}; DICOM outputs need the labels on the series' own grid"
        )
    if isinstance(labels, Volume) and not np.allclose(labels.affine, series.volume.affine, atol=1e-4):
        raise InputError("the segmentation's affine differs from the DICOM series'; pass labels on the series grid")
    return array.transpose(2, 1, 0)


def _concept(hd, code: Code):
    return hd.sr.CodedConcept(value=code.value, scheme_designator=code.scheme, meaning=code.meaning)


def _segment_description(hd, number: int, name: str):
    from pydicom.sr.codedict import codes

    entry = structure_codes(name)
    description = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=name,
        segmented_property_category=_concept(hd, entry.category),
        segmented_property_type=_concept(hd, entry.type),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name="totalseg (TotalSegmentator models)", version=__version__, family=codes.DCM.ArtificialIntelligence
        ),
        anatomic_regions=[_concept(hd, entry.region)] if entry.region else None,
        display_color=hd.color.CIELabColor.from_rgb(*entry.rgb),
    )
    if entry.type_modifier is not None:
        description.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
            _concept(hd, entry.type_modifier)
        ]
    if entry.region is not None and entry.region_modifier is not None:
        description.AnatomicRegionSequence[0].AnatomicRegionModifierSequence = [_concept(hd, entry.region_modifier)]
    return description


def build_dicom_seg(labels: Volume | np.ndarray, series: DicomSeries, classes: Mapping[int, str]):
    """The DICOM-SEG dataset (a ``highdicom.seg.Segmentation``) of ``labels`` on ``series``.

    Raises:
        InputError: the labels are not on the series' grid, or no class has any voxel.
    """
    hd = _highdicom()
    frames = frames_of(labels, series)
    present = present_classes(frames, classes)
    if not present:
        raise InputError(f"no structure has any voxel in {series.description}; a DICOM-SEG needs at least one")
    lookup = np.zeros(max(int(frames.max()), max(classes)) + 1, dtype=np.uint16)
    for number, class_id in enumerate(present, start=1):
        lookup[class_id] = number
    segment_map = lookup[frames]  # segment numbers 1..n, 0 elsewhere (classes not asked for included)
    descriptions = [_segment_description(hd, n, name) for n, name in enumerate(present.values(), start=1)]
    return hd.seg.Segmentation(
        source_images=list(series.datasets),
        pixel_array=segment_map,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name="totalseg",
        software_versions=__version__,
        device_serial_number="0",
        series_description=f"Segmentation of {series.description}"[:64],
        content_label="TOTALSEG",
        content_description="Automatic segmentation (TotalSegmentator models)",
    )


def write_dicom_seg(
    labels: Volume | np.ndarray, series: DicomSeries, classes: Mapping[int, str], path: str | os.PathLike
) -> Path:
    """Write ``labels`` (on the grid of ``series``) as a DICOM-SEG file, atomically.

    Args:
        labels: label volume (X, Y, Z) on the series' grid, as :func:`totalseg.segment` returns it.
        series: the source series (:func:`totalseg.io.dicom.read_dicom_series`).
        classes: label id -> structure name; only classes with voxels become segments.
        path: the ``.dcm`` file to write.

    Returns:
        The path written.

    Examples:
        >>> series = read_dicom_series("ct_series/")  # doctest: +SKIP
        >>> write_dicom_seg(labels, series, class_map("total"), "seg.dcm")  # doctest: +SKIP
    """
    seg = build_dicom_seg(labels, series, classes)
    return save_dataset(seg, path)


def save_dataset(dataset, path: str | os.PathLike) -> Path:
    """Save a pydicom dataset (in its file meta's transfer syntax) through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        dataset.save_as(tmp, enforce_file_format=True)
    return Path(path)
