"""Write (and read back) a segmentation as a DICOM RT Structure Set with pydicom.

One ROI per structure that has voxels, in class-map order, with the official display colour and
its SNOMED-CT type code (RT ROI Identification Code Sequence). Each slice of a structure becomes
``CLOSED_PLANAR`` contours: scikit-image's marching squares at level 0.5 traces the boundary
half-way between voxel centres inside and outside the mask, and collinear points are dropped.
Holes are contours of their own; as in most planning systems, contours of one ROI in one plane
combine by parity (even-odd), which is how :func:`read_rtstruct` rasterises them: a voxel is in
the ROI when its centre lies inside an odd number of that plane's contours. Masks round-trip
exactly through write and read.

Each contour references its source slice; the structure set references the source study,
series and frame of reference and copies the patient and study modules of the source. The file is
written in Implicit VR Little Endian (as most planning systems write RTSTRUCTs): Contour Data of a
long contour does not fit the 64 KiB length field of an explicit-VR DS element.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from scipy import ndimage

from totalseg import __version__
from totalseg.anatomy.snomed import structure_codes
from totalseg.errors import InputError, OutputError
from totalseg.imaging.volume import Volume
from totalseg.io.dicom import DicomSeries
from totalseg.io.dicom_seg import MANUFACTURER, frames_of, present_classes, save_dataset

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
_STUDY_COMPONENT_REF = "1.2.840.10008.3.1.2.3.1"  # the SOP class RT objects use to reference a study
SERIES_NUMBER = 101
_CONTOUR_DATA = 0x30060050
_PATIENT_KEYS = (
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex", "OtherPatientIDsSequence",
    "PatientComments", "PatientIdentityRemoved", "DeidentificationMethod",
)
_STUDY_KEYS = (
    "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber",
    "StudyDescription", "PatientAge", "PatientSize", "PatientWeight",
)
_TYPE2_KEYS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
    "ReferringPhysicianName", "StudyID", "AccessionNumber",
)


def _skimage_measure():
    try:
        from skimage import measure
    except ImportError:
        raise OutputError("writing RTSTRUCT needs scikit-image: pip install 'totalseg[dicom]'") from None
    return measure


def mask_contours(mask: np.ndarray) -> list[np.ndarray]:
    """Closed boundary polygons of a 2-D mask as (N, 2) arrays of (row, column) pixel coordinates.

    The last point is not repeated. Collinear points are dropped.

    Examples:
        >>> square = np.zeros((5, 5), bool); square[1:3, 1:3] = True
        >>> mask_contours(square)[0].tolist()
        [[2.5, 2.0], [2.5, 1.0], [2.0, 0.5], [1.0, 0.5], [0.5, 1.0], [0.5, 2.0], [1.0, 2.5], [2.0, 2.5]]
    """
    measure = _skimage_measure()
    padded = np.pad(mask.astype(np.uint8), 1)  # every contour closes inside the padding
    polygons = []
    for contour in measure.find_contours(padded, 0.5):
        simplified = measure.approximate_polygon(contour, tolerance=0)
        polygons.append(simplified[:-1] - 1.0)
    return polygons


def _patient_points(points_rc: np.ndarray, ds) -> np.ndarray:
    """(row, column) pixel coordinates of a slice -> (N, 3) patient (LPS) mm coordinates."""
    iop = np.asarray([float(v) for v in ds.ImageOrientationPatient])
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    origin = np.asarray([float(v) for v in ds.ImagePositionPatient])
    return origin + np.outer(points_rc[:, 1] * col_spacing, iop[:3]) + np.outer(points_rc[:, 0] * row_spacing, iop[3:])


def _pixel_points(points_mm: np.ndarray, ds) -> np.ndarray:
    """Inverse of :func:`_patient_points`: (N, 3) mm -> (N, 2) (row, column)."""
    iop = np.asarray([float(v) for v in ds.ImageOrientationPatient])
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    offset = points_mm - np.asarray([float(v) for v in ds.ImagePositionPatient])
    return np.stack([offset @ iop[3:] / row_spacing, offset @ iop[:3] / col_spacing], axis=1)


def _contour_data(points_mm: np.ndarray):
    """Contour Data as a raw DS element: already encoded, so pydicom neither parses nor re-encodes
    thousands of numbers per contour (the slow part of writing a whole-body structure set)."""
    from pydicom.dataelem import RawDataElement

    # repr of a float rounded to 4 decimals is that decimal in at most 16 characters (the DS limit)
    text = "\\".join(map(str, np.round(points_mm, 4).ravel().tolist())).encode("ascii")
    if len(text) % 2:
        text += b" "
    return RawDataElement(_CONTOUR_DATA, "DS", len(text), text, 0, True, True)


def _image_ref(Dataset, ds):
    ref = Dataset()
    ref.ReferencedSOPClassUID = ds.SOPClassUID
    ref.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    return ref


def _roi_contours(Dataset, frames: np.ndarray, class_id: int, box: tuple, series: DicomSeries) -> list:
    """Contours of one class; ``box`` is its (slice, row, column) bounding box in ``frames``."""
    contours = []
    block = frames[box] == class_id
    r0, c0 = box[1].start, box[2].start
    for dk in np.flatnonzero(block.any(axis=(1, 2))):
        k = box[0].start + int(dk)
        for polygon in mask_contours(block[dk]):
            points = _patient_points(polygon + (r0, c0), series.datasets[k])
            contour = Dataset()
            # Marked as already in the file's encoding, so pydicom writes the raw Contour Data as is.
            contour.set_original_encoding(True, True, "iso8859")
            contour.ContourImageSequence = [_image_ref(Dataset, series.datasets[k])]
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(points)
            contour[_CONTOUR_DATA] = _contour_data(points)
            contours.append(contour)
    return contours


def _copy_modules(Dataset, target, source) -> None:
    for key in (*_PATIENT_KEYS, *_STUDY_KEYS):
        if key in source:
            target[key] = source[key]
    for key in _TYPE2_KEYS:
        if key not in target:
            setattr(target, key, "")
    target.SpecificCharacterSet = source.get("SpecificCharacterSet", "ISO_IR 100")


def _identification_code(Dataset, name: str):
    entry = structure_codes(name)
    code = Dataset()
    code.CodeValue = entry.type.value
    code.CodingSchemeDesignator = entry.type.scheme
    code.CodeMeaning = entry.type.meaning
    return code


def build_rtstruct(labels: Volume | np.ndarray, series: DicomSeries, classes: Mapping[int, str]):
    """The RT Structure Set (a ``pydicom.Dataset``) of ``labels`` on ``series``.

    Raises:
        InputError: the labels are not on the series' grid, or no class has any voxel.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ImplicitVRLittleEndian, generate_uid

    frames = frames_of(labels, series)
    present = present_classes(frames, classes)
    if not present:
        raise InputError(f"no structure has any voxel in {series.description}; an RTSTRUCT needs at least one")
    boxes = ndimage.find_objects(frames, max_label=max(present))  # one pass for every class's bounding box
    source = series.datasets[0]
    now = datetime.datetime.now()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RT_STRUCTURE_SET_STORAGE
    # Implicit VR: a long contour's Contour Data exceeds the 64 KiB an explicit-VR DS element can hold.
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    _copy_modules(Dataset, ds, source)
    ds.SOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.InstanceCreationDate, ds.InstanceCreationTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = SERIES_NUMBER
    ds.SeriesDescription = f"Structures of {series.description}"[:64]
    ds.OperatorsName = ""
    ds.FrameOfReferenceUID = source.FrameOfReferenceUID
    ds.PositionReferenceIndicator = source.get("PositionReferenceIndicator", "")
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = "totalseg"
    ds.SoftwareVersions = __version__
    ds.InstanceNumber = 1
    ds.StructureSetLabel = "TOTALSEG"
    ds.StructureSetName = "Automatic segmentation"
    ds.StructureSetDate, ds.StructureSetTime = ds.InstanceCreationDate, ds.InstanceCreationTime
    ds.ReferencedFrameOfReferenceSequence = [_frame_reference(Dataset, series)]
    ds.StructureSetROISequence, ds.ROIContourSequence, ds.RTROIObservationsSequence = [], [], []
    for number, (class_id, name) in enumerate(present.items(), start=1):
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = source.FrameOfReferenceUID
        roi.ROIName = name
        roi.ROIGenerationAlgorithm = "AUTOMATIC"
        ds.StructureSetROISequence.append(roi)
        contour = Dataset()
        contour.ReferencedROINumber = number
        contour.ROIDisplayColor = list(structure_codes(name).rgb)
        contour.ContourSequence = _roi_contours(Dataset, frames, class_id, boxes[class_id - 1], series)
        ds.ROIContourSequence.append(contour)
        observation = Dataset()
        observation.ObservationNumber = number
        observation.ReferencedROINumber = number
        observation.RTROIIdentificationCodeSequence = [_identification_code(Dataset, name)]
        observation.RTROIInterpretedType = "ORGAN"
        observation.ROIInterpreter = ""
        ds.RTROIObservationsSequence.append(observation)
    return ds


def _frame_reference(Dataset, series: DicomSeries):
    series_ref = Dataset()
    series_ref.SeriesInstanceUID = series.series_uid
    series_ref.ContourImageSequence = [_image_ref(Dataset, ds) for ds in series.datasets]
    study_ref = Dataset()
    study_ref.ReferencedSOPClassUID = _STUDY_COMPONENT_REF
    study_ref.ReferencedSOPInstanceUID = series.study_uid
    study_ref.RTReferencedSeriesSequence = [series_ref]
    frame = Dataset()
    frame.FrameOfReferenceUID = series.datasets[0].FrameOfReferenceUID
    frame.RTReferencedStudySequence = [study_ref]
    return frame


def write_rtstruct(
    labels: Volume | np.ndarray, series: DicomSeries, classes: Mapping[int, str], path: str | os.PathLike
) -> Path:
    """Write ``labels`` (on the grid of ``series``) as an RTSTRUCT file, atomically.

    Args:
        labels: label volume (X, Y, Z) on the series' grid, as :func:`totalseg.segment` returns it.
        series: the source series (:func:`totalseg.io.dicom.read_dicom_series`).
        classes: label id -> structure name; only classes with voxels become ROIs.
        path: the ``.dcm`` file to write.

    Returns:
        The path written.

    Examples:
        >>> series = read_dicom_series("ct_series/")  # doctest: +SKIP
        >>> write_rtstruct(labels, series, class_map("total"), "rtstruct.dcm")  # doctest: +SKIP
    """
    return save_dataset(build_rtstruct(labels, series, classes), path)


def read_rtstruct(path: str | os.PathLike, series: DicomSeries) -> dict[str, np.ndarray]:
    """ROI name -> boolean mask (X, Y, Z) on the grid of ``series``, from an RTSTRUCT file.

    Contours are matched to slices by their referenced SOP Instance UID; contours of one ROI in
    one slice combine by parity (holes).

    Raises:
        InputError: the file is not an RTSTRUCT, or a contour references a slice not in ``series``.
    """
    import pydicom
    from skimage.draw import polygon as fill_polygon

    ds = pydicom.dcmread(path)
    if ds.get("Modality") != "RTSTRUCT":
        raise InputError(f"{path}: not an RTSTRUCT (modality {ds.get('Modality')!r})")
    slice_of = {str(d.SOPInstanceUID): k for k, d in enumerate(series.datasets)}
    names = {int(roi.ROINumber): str(roi.ROIName) for roi in ds.StructureSetROISequence}
    n_slices, rows, cols = len(series.datasets), int(series.datasets[0].Rows), int(series.datasets[0].Columns)
    masks = {}
    for roi in ds.ROIContourSequence:
        frames = np.zeros((n_slices, rows, cols), dtype=bool)
        for contour in roi.get("ContourSequence", []):
            uid = str(contour.ContourImageSequence[0].ReferencedSOPInstanceUID)
            if uid not in slice_of:
                raise InputError(f"{path}: a contour references image {uid}, which is not in {series.description}")
            k = slice_of[uid]
            points = _pixel_points(np.asarray(contour.ContourData, dtype=np.float64).reshape(-1, 3), series.datasets[k])
            rr, cc = fill_polygon(points[:, 0], points[:, 1], shape=(rows, cols))
            frames[k, rr, cc] ^= True
        masks[names[int(roi.ReferencedROINumber)]] = frames.transpose(2, 1, 0)
    return masks
