"""``output_type`` of ``POST /jobs``: DICOM-SEG and RTSTRUCT written beside the multilabel NIfTI,
refused with a one-line 400 for a non-DICOM upload or an unknown type."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from totalseg.io.nifti_ext import load_label_map

pydicom = pytest.importorskip("pydicom")

AUTH = {"Authorization": "Bearer s3cret"}  # the token of conftest.make_client


def _submit(client, path, **fields):
    with open(path, "rb") as f:
        return client.post("/jobs", headers=AUTH, files={"file": (path.name, f)}, data=fields)


@pytest.fixture(scope="module")
def series_zip(tmp_path_factory, ct_small_path) -> Path:
    """A 48x48x12 crop of the real 3 mm CT as a DICOM series (one file per slice), zipped."""
    folder = tmp_path_factory.mktemp("series")
    _write_ct_series(ct_small_path, folder)
    return Path(shutil.make_archive(str(tmp_path_factory.mktemp("zip") / "study"), "zip", folder))


def _write_ct_series(nifti: Path, folder: Path) -> None:
    import nibabel as nib
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    img = nib.as_closest_canonical(nib.load(nifti)).slicer[40:88, 30:78, 8:20]  # small: RTSTRUCT contours are slow
    data, zooms = np.asarray(img.dataobj).astype(np.int16), img.header.get_zooms()
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    origin_lps = img.affine[:3, 3] * [-1, -1, 1] - [(data.shape[0] - 1) * zooms[0], (data.shape[1] - 1) * zooms[1], 0]
    for k in range(data.shape[2]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID, ds.file_meta.MediaStorageSOPClassUID = ExplicitVRLittleEndian, CTImageStorage
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientBirthDate, ds.PatientSex, ds.StudyDate, ds.StudyTime = "19700101", "O", "20240101", "120000"
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "A1", ""
        ds.PatientName, ds.PatientID, ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "Test", "P1", "CT", 1, k + 1
        ds.ImagePositionPatient = [float(v) for v in origin_lps + [0, 0, k * zooms[2]]]
        ds.ImageOrientationPatient, ds.PixelSpacing = [1, 0, 0, 0, 1, 0], [float(zooms[1]), float(zooms[0])]
        ds.SliceThickness, ds.SamplesPerPixel, ds.PhotometricInterpretation = float(zooms[2]), 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        frame_yx = data[::-1, ::-1, k].T  # RAS columns/rows to LPS-ordered pixels
        ds.Rows, ds.Columns = frame_yx.shape
        ds.PixelData = np.ascontiguousarray(frame_yx).tobytes()
        ds.save_as(folder / f"ct{k:03d}.dcm", enforce_file_format=True)


def test_dicom_seg_and_rtstruct_outputs(make_client, series_zip, tmp_path, wait_done):
    with make_client() as client:
        # fast body: 2 classes, so the RTSTRUCT's contours take a second (total's 117 take ten)
        reply = _submit(client, series_zip, task="body", fast="true", ml="false",
                        output_type="dicom_seg,dicom_rtstruct")
        assert reply.status_code == 201, reply.text
        job_id = reply.json()["id"]
        state = wait_done(client, job_id, timeout_s=60)
        assert state["status"] == "done", state
        listed = client.get(f"/jobs/{job_id}/files", headers=AUTH).json()
        assert listed == ["masks.zip", "segmentation.nii.gz", "segmentation_rtstruct.dcm", "segmentation_seg.dcm"]
        seg = client.get(f"/jobs/{job_id}/files/segmentation_seg.dcm", headers=AUTH).content
        rt = client.get(f"/jobs/{job_id}/files/segmentation_rtstruct.dcm", headers=AUTH).content
        masks = client.get(f"/jobs/{job_id}/files/masks.zip", headers=AUTH).content
        multilabel = client.get(f"/jobs/{job_id}/files/segmentation.nii.gz", headers=AUTH).content
    (tmp_path / "seg.dcm").write_bytes(seg)
    (tmp_path / "rt.dcm").write_bytes(rt)
    (tmp_path / "masks.zip").write_bytes(masks)
    (tmp_path / "seg.nii.gz").write_bytes(multilabel)
    with zipfile.ZipFile(series_zip) as zf:
        source = pydicom.dcmread(zf.open(zf.namelist()[0]), stop_before_pixels=True)
    seg_ds = pydicom.dcmread(tmp_path / "seg.dcm")
    assert seg_ds.Modality == "SEG" and seg_ds.FrameOfReferenceUID == source.FrameOfReferenceUID
    labels = {str(s.SegmentLabel) for s in seg_ds.SegmentSequence}
    mask_names = {name.removesuffix(".nii.gz") for name in zipfile.ZipFile(tmp_path / "masks.zip").namelist()}
    assert set(load_label_map(tmp_path / "seg.nii.gz").values()) == mask_names == {"body_trunc", "body_extremities"}
    assert labels and labels <= mask_names
    rt_ds = pydicom.dcmread(tmp_path / "rt.dcm")
    assert rt_ds.Modality == "RTSTRUCT" and {str(r.ROIName) for r in rt_ds.StructureSetROISequence} <= mask_names


@pytest.mark.parametrize(("upload", "value", "message"), [
    ("nifti", "dicom_seg", "output_type dicom_seg needs a DICOM upload"),
    ("zip", "png", "form field output_type='png': unknown output type 'png'"),
    ("zip", "", "form field output_type='': no output type given"),
])
def test_bad_output_type_is_one_line_400(make_client, ct_small_path, series_zip, data_dir, upload, value, message):
    with make_client(start_workers=False) as client:
        reply = _submit(client, ct_small_path if upload == "nifti" else series_zip, output_type=value)
    assert reply.status_code == 400
    assert reply.json()["detail"].startswith(message) and "\n" not in reply.json()["detail"]
    assert list((data_dir / "jobs").iterdir()) == []  # the refused upload left nothing behind
