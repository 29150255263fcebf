"""DICOM test helpers: write synthetic single-frame CT/MR series with pydicom, and find the real series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
CT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.2"
MR_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.4"


def write_series(
    folder: Path,
    data_xyz: np.ndarray,
    affine_ras: np.ndarray,
    *,
    modality: str = "CT",
    series_number: int = 1,
    description: str = "",
    study_uid: str = "1.2.826.0.1.3680043.8.498.1",
    series_uid: str | None = None,
    intercept: float = 0.0,
    slope: float | list[float] = 1.0,
    positions_lps: list | None = None,
    unsigned: bool = False,
) -> list[Path]:
    """Write ``data_xyz`` (X = column, Y = row, Z = slice) as one file per slice; returns the files.

    The stored value is ``(data - intercept) / slope`` as int16 (uint16 with ``unsigned``, as most MR
    scanners store it); ``slope`` may be a list, one per slice (as some MR scanners write).
    ``positions_lps`` overrides the Image Position (Patient) of each slice (for tilt, gaps and
    duplicates).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ np.asarray(affine_ras, dtype=np.float64)
    col_step, row_step = np.linalg.norm(lps[:3, 0]), np.linalg.norm(lps[:3, 1])
    iop = [*(lps[:3, 0] / col_step), *(lps[:3, 1] / row_step)]
    series_uid = series_uid or generate_uid(entropy_srcs=[study_uid, str(series_number), modality])
    sop_class = CT_SOP_CLASS if modality == "CT" else MR_SOP_CLASS
    files = []
    for k in range(data_xyz.shape[2]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = sop_class
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
            entropy_srcs=[series_uid, str(k)]
        )
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Phantom^Test", "P001", "19700101", "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240101", "120000", "1", "A1"
        ds.ReferringPhysicianName = ""
        ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[study_uid, "frame"])
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, series_number, k + 1
        ds.SeriesDescription = description
        ds.Manufacturer = "synthetic"
        position = positions_lps[k] if positions_lps is not None else lps[:3, 3] + k * lps[:3, 2]
        ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in iop]
        ds.PixelSpacing = [f"{row_step:.6f}", f"{col_step:.6f}"]
        ds.SliceThickness = f"{np.linalg.norm(lps[:3, 2]):.6f}"
        ds.PositionReferenceIndicator = ""
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0 if unsigned else 1
        slice_slope = float(np.broadcast_to(slope, data_xyz.shape[2])[k])
        ds.RescaleIntercept, ds.RescaleSlope = f"{intercept:g}", f"{slice_slope:g}"
        if modality == "CT":
            ds.RescaleType = "HU"
        frame = np.round((data_xyz[:, :, k].T - intercept) / slice_slope).astype(np.uint16 if unsigned else np.int16)
        ds.Rows, ds.Columns = frame.shape
        ds.PixelData = frame.tobytes()
        path = folder / f"{modality}{series_number}_{k:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files


@pytest.fixture(scope="session")
def write_dicom_series():
    """The :func:`write_series` helper (pydicom needed)."""
    pytest.importorskip("pydicom")
    return write_series


@pytest.fixture(scope="session")
def dicom_ct_j2k() -> Path:
    """The real JPEG 2000 CT series (20 slices, 512x512) in tests/data."""
    return TEST_DATA / "dicom_ct_j2k"
