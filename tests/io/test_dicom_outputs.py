"""DICOM-SEG and RTSTRUCT outputs: read back with highdicom/pydicom, SNOMED codes, dciodvfy, file names."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.anatomy.class_maps import class_map
from totalseg.errors import InputError
from totalseg.io.dicom import read_dicom_series
from totalseg.io.dicom_seg import write_dicom_seg
from totalseg.io.outputs import normalize_output_types, plan_outputs
from totalseg.io.rtstruct import mask_contours, read_rtstruct, write_rtstruct

hd = pytest.importorskip("highdicom")
pydicom = pytest.importorskip("pydicom")

SNOMED_CSV = Path(__file__).resolve().parents[1] / "data" / "reference" / "snomed_mapping.csv"
TOTAL = class_map("total")
ID = {name: k for k, name in TOTAL.items()}


def _snomed_rows() -> dict[str, dict[str, str]]:
    """The official table (tests/data/reference), not the package's copy of it."""
    with open(SNOMED_CSV, newline="") as f:
        return {row["Structure"]: row for row in csv.DictReader(f)}


def _phantom_labels(shape) -> np.ndarray:
    """Spleen: a box; liver: a ball with a hole (a ring in each slice); kidney_left: two blobs per slice."""
    x, y, z = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    labels = np.zeros(shape, np.uint8)
    labels[2:8, 3:9, 1:5] = ID["spleen"]
    cx, cy = shape[0] * 0.6, shape[1] * 0.5
    r2 = (x - cx) ** 2 + (y - cy) ** 2
    labels[(r2 <= 36) & (z >= 2) & (z < shape[2] - 1)] = ID["liver"]
    labels[(r2 <= 4) & (z >= 2) & (z < shape[2] - 1)] = 0  # hole
    labels[1:3, shape[1] - 4 : shape[1] - 2, 3:6] = ID["kidney_left"]
    labels[4:6, shape[1] - 4 : shape[1] - 2, 3:6] = ID["kidney_left"]
    return labels


@pytest.fixture(scope="module")
def small_series(tmp_path_factory, write_dicom_series):
    folder = tmp_path_factory.mktemp("series")
    affine = np.diag([-0.9, -0.9, 2.0, 1.0])
    affine[:3, 3] = [20.0, 30.0, -50.0]
    data = np.random.default_rng(0).integers(-200, 200, (24, 20, 8)).astype(np.int16)
    write_dicom_series(folder, data, affine, description="phantom")
    return read_dicom_series(folder)


def _errors(path: Path) -> list[str]:
    """dciodvfy's error lines (warnings are allowed)."""
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian dicom3tools) not installed")
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]


def _segments_of(seg) -> dict[int, str]:
    return {int(s.SegmentNumber): str(s.SegmentLabel) for s in seg.SegmentSequence}


# --- DICOM-SEG ------------------------------------------------------------------------------------


def test_seg_reads_back_with_segments_codes_and_geometry(small_series, tmp_path):
    labels = _phantom_labels(small_series.volume.shape)
    path = write_dicom_seg(labels, small_series, TOTAL, tmp_path / "seg.dcm")
    seg = hd.seg.segread(path)
    # one segment per structure with voxels, numbered in class-map order
    assert _segments_of(seg) == {1: "spleen", 2: "kidney_left", 3: "liver"}
    rows = _snomed_rows()
    for item in seg.SegmentSequence:
        row = rows[str(item.SegmentLabel)]
        prop = item.SegmentedPropertyTypeCodeSequence[0]
        want = [row[f"SegmentedPropertyTypeCodeSequence.{key}"] for key in ("CodeValue", "CodeMeaning")]
        assert [prop.CodingSchemeDesignator, prop.CodeValue, prop.CodeMeaning] == ["SCT", *want]
        category = item.SegmentedPropertyCategoryCodeSequence[0]
        assert category.CodeValue == row["SegmentedPropertyCategoryCodeSequence.CodeValue"]
        rgb = tuple(int(c) for c in row["DicomRGBColor"].split(","))
        got = hd.color.CIELabColor.from_dicom_value(item.RecommendedDisplayCIELabValue).to_rgb()
        assert np.abs(np.subtract(got, rgb)).max() <= 1
    left = seg.SegmentSequence[1].SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence[0]
    assert (left.CodeValue, left.CodeMeaning) == ("7771000", "Left")
    # pixels: frame k of the source = slice k of the volume, transposed to (row, column)
    uids = [str(ds.SOPInstanceUID) for ds in small_series.datasets]
    pixels = seg.get_pixels_by_source_instance(uids, combine_segments=True, skip_overlap_checks=True)
    expected = np.zeros_like(labels, dtype=np.uint16)
    for number, name in _segments_of(seg).items():
        expected[labels == ID[name]] = number
    np.testing.assert_array_equal(pixels, expected.transpose(2, 1, 0))
    # references and copied modules
    assert seg.StudyInstanceUID == small_series.study_uid
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == small_series.series_uid
    assert seg.FrameOfReferenceUID == small_series.datasets[0].FrameOfReferenceUID
    assert (str(seg.PatientName), seg.PatientID) == ("Phantom^Test", "P001")
    assert seg.SeriesInstanceUID != small_series.series_uid


def test_seg_and_rtstruct_pass_dciodvfy(small_series, tmp_path):
    labels = _phantom_labels(small_series.volume.shape)
    assert _errors(write_dicom_seg(labels, small_series, TOTAL, tmp_path / "seg.dcm")) == []
    assert _errors(write_rtstruct(labels, small_series, TOTAL, tmp_path / "rt.dcm")) == []


# --- RTSTRUCT -------------------------------------------------------------------------------------


def test_rtstruct_round_trips_masks_names_codes_and_colours(small_series, tmp_path):
    labels = _phantom_labels(small_series.volume.shape)
    path = write_rtstruct(labels, small_series, TOTAL, tmp_path / "rt.dcm")
    masks = read_rtstruct(path, small_series)
    assert list(masks) == ["spleen", "kidney_left", "liver"]
    for name, mask in masks.items():
        np.testing.assert_array_equal(mask, labels == ID[name], err_msg=name)
    ds = pydicom.dcmread(path)
    rows = _snomed_rows()
    assert [str(r.ROIName) for r in ds.StructureSetROISequence] == ["spleen", "kidney_left", "liver"]
    for roi, contour, obs in zip(ds.StructureSetROISequence, ds.ROIContourSequence, ds.RTROIObservationsSequence):
        row = rows[str(roi.ROIName)]
        assert [int(c) for c in contour.ROIDisplayColor] == [int(c) for c in row["DicomRGBColor"].split(",")]
        assert obs.RTROIIdentificationCodeSequence[0].CodeValue == row["SegmentedPropertyTypeCodeSequence.CodeValue"]
        assert all(c.ContourGeometricType == "CLOSED_PLANAR" for c in contour.ContourSequence)
    liver = ds.ROIContourSequence[2].ContourSequence
    assert len(liver) == 2 * 5  # outer ring and hole on each of its 5 slices
    study = ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    assert study.ReferencedSOPInstanceUID == small_series.study_uid
    assert study.RTReferencedSeriesSequence[0].SeriesInstanceUID == small_series.series_uid
    assert (str(ds.PatientName), ds.StudyInstanceUID) == ("Phantom^Test", small_series.study_uid)


def test_rtstruct_round_trips_speckle(small_series, tmp_path):
    """Random speckle (diagonal touches, one-voxel islands and holes) still comes back exactly."""
    rng = np.random.default_rng(3)
    labels = np.where(rng.random(small_series.volume.shape) < 0.45, ID["aorta"], 0).astype(np.uint8)
    masks = read_rtstruct(write_rtstruct(labels, small_series, TOTAL, tmp_path / "rt.dcm"), small_series)
    np.testing.assert_array_equal(masks["aorta"], labels == ID["aorta"])


def test_mask_contours_of_a_square_with_a_hole():
    mask = np.ones((5, 5), bool)
    mask[2, 2] = False
    outer, hole = sorted(mask_contours(mask), key=len, reverse=True)
    assert outer.min(axis=0).tolist() == [-0.5, -0.5] and outer.max(axis=0).tolist() == [4.5, 4.5]
    assert hole.min(axis=0).tolist() == [1.5, 1.5] and hole.max(axis=0).tolist() == [2.5, 2.5]


# --- the real series --------------------------------------------------------------------------------


def test_outputs_on_the_real_series_reference_filled_uids_and_validate(dicom_ct_j2k, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the blank-UID warning, tested in test_dicom_input
        series = read_dicom_series(dicom_ct_j2k)
    labels = np.zeros(series.volume.shape, np.uint8)
    labels[200:300, 220:320, 5:15] = ID["liver"]
    labels[150:180, 250:280, 8:12] = ID["aorta"]
    seg_path = write_dicom_seg(labels, series, TOTAL, tmp_path / "seg.dcm")
    rt_path = write_rtstruct(labels, series, TOTAL, tmp_path / "rt.dcm")
    assert _errors(seg_path) == [] and _errors(rt_path) == []
    seg = hd.seg.segread(seg_path)
    refs = {str(r.ReferencedSOPInstanceUID) for r in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert refs == {str(ds.SOPInstanceUID) for ds in series.datasets} and "" not in refs
    masks = read_rtstruct(rt_path, series)
    np.testing.assert_array_equal(masks["liver"], labels == ID["liver"])


# --- refusals ---------------------------------------------------------------------------------------


def test_labels_off_the_series_grid_or_empty_are_refused(small_series, tmp_path):
    with pytest.raises(InputError, match="has shape .* DICOM outputs need the labels on the series' own grid"):
        write_dicom_seg(np.zeros((3, 3, 3), np.uint8), small_series, TOTAL, tmp_path / "seg.dcm")
    with pytest.raises(InputError, match="no structure has any voxel"):
        write_rtstruct(np.zeros(small_series.volume.shape, np.uint8), small_series, TOTAL, tmp_path / "rt.dcm")
    assert list(tmp_path.iterdir()) == []


# --- output types and the official file names -------------------------------------------------------


def test_output_types_accept_lists_commas_and_the_dicom_alias():
    assert normalize_output_types("nifti") == ("nifti",)
    assert normalize_output_types(["dicom_seg", "nifti,dicom"]) == ("dicom_seg", "nifti", "dicom_rtstruct")
    with pytest.raises(InputError, match="unknown output type 'png'; choose from nifti, dicom_seg, dicom_rtstruct"):
        normalize_output_types(["nifti", "png"])


def test_output_paths_follow_the_official_rules(tmp_path):
    def names(output, types, ml=False):
        plan = plan_outputs(output, types, ml=ml, task_name="total")
        paths = (plan.nifti, plan.dicom_seg, plan.dicom_rtstruct)
        return [p.relative_to(tmp_path).as_posix() if p else None for p in paths]

    assert names(tmp_path / "masks", ("nifti",)) == ["masks", None, None]
    assert names(tmp_path / "seg.dcm", ("dicom_seg",)) == [None, "seg.dcm", None]
    assert names(tmp_path / "out", ("dicom_rtstruct",)) == [None, None, "out.dcm"]
    assert names(tmp_path, ("dicom_seg",)) == [None, "total_segmentation_seg.dcm", None]
    assert names(tmp_path / "ct.nii.gz", ("nifti", "dicom_seg", "dicom_rtstruct")) == [
        "ct.nii.gz", "ct_seg.dcm", "ct_rtstruct.dcm"]
    assert names(tmp_path, ("nifti", "dicom_rtstruct")) == [
        "total_segmentation.nii.gz", None, "total_segmentation_rtstruct.dcm"]


# --- segment() end to end ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ct_series(tmp_path_factory, write_dicom_series, ct_small):
    """A 3 mm CT series cut from the real CT (so --fast runs on its own grid)."""
    folder = tmp_path_factory.mktemp("ct_series")
    data = np.asarray(ct_small.array[30:70, 25:61, 8:18], dtype=np.int16)
    affine = ct_small.affine.copy()
    affine[:3, 3] = (ct_small.affine @ [30, 25, 8, 1])[:3]
    write_dicom_series(folder, data, affine, intercept=-1024, description="ct small")
    return folder


def test_segment_writes_every_output_type_with_the_official_names(ct_series, tiny_settings, tmp_path):
    from totalseg import segment

    out = tmp_path / "out"
    out.mkdir()
    img = segment(ct_series, out, fast=True, output_type=["nifti", "dicom_seg", "dicom_rtstruct"],
                  settings=tiny_settings, device="cpu", quiet=True)
    assert sorted(p.name for p in out.iterdir()) == [
        "total_segmentation.nii.gz", "total_segmentation_rtstruct.dcm", "total_segmentation_seg.dcm"]
    labels = np.asanyarray(img.dataobj)
    present = [TOTAL[k] for k in sorted(set(np.unique(labels)) - {0})]
    assert present, "the tiny random model should label something"
    np.testing.assert_array_equal(np.asanyarray(nib.load(out / "total_segmentation.nii.gz").dataobj), labels)
    series = read_dicom_series(ct_series)
    seg = hd.seg.segread(out / "total_segmentation_seg.dcm")
    assert list(_segments_of(seg).values()) == present
    uids = [str(ds.SOPInstanceUID) for ds in series.datasets]
    pixels = seg.get_pixels_by_source_instance(uids, combine_segments=True, skip_overlap_checks=True)
    expected = np.zeros(labels.shape, np.uint16)
    for number, name in _segments_of(seg).items():
        expected[labels == ID[name]] = number
    np.testing.assert_array_equal(pixels, expected.transpose(2, 1, 0))
    masks = read_rtstruct(out / "total_segmentation_rtstruct.dcm", series)
    assert list(masks) == present
    for name in present[:5]:
        np.testing.assert_array_equal(masks[name], labels == ID[name], err_msg=name)


def test_dicom_output_from_a_nifti_input_is_one_clear_error(ct_small_path, tiny_settings, tmp_path):
    from totalseg import segment

    with pytest.raises(InputError, match="needs a DICOM input .*; use --output_type nifti"):
        segment(ct_small_path, tmp_path / "seg.dcm", fast=True, output_type="dicom_seg", settings=tiny_settings,
                device="cpu", quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_cli_dicom_seg_from_nifti_exits_2_with_one_line(ct_small_path, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "totalseg", "segment", "-i", str(ct_small_path), "-o", str(tmp_path / "x"), "-ot",
         "dicom_seg", "--fast",
         "-d", "cpu"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "needs a DICOM input" in result.stderr


def test_docstring_examples_run():
    import doctest

    from totalseg.anatomy import snomed
    from totalseg.io import dicom, dicom_seg, outputs, rtstruct

    for module in (dicom, dicom_seg, outputs, rtstruct, snomed):
        result = doctest.testmod(module, raise_on_error=False)
        assert result.failed == 0, module.__name__
        assert result.attempted > 0, module.__name__
