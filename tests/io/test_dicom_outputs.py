"""DICOM-SEG and RTSTRUCT outputs: read back with highdicom/pydicom and the RTSTRUCT with rt-utils, SNOMED codes,
dciodvfy, file names."""

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
from scipy import ndimage

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


# --- RTSTRUCT against rt-utils ----------------------------------------------------------------------
# rt-utils parses the file on its own: ROI names, contours matched to images by SOP Instance UID, the
# images sorted along their normal, its own patient -> pixel transform. Two comparisons:
#
# 1. Exact: rt-utils' contours in rt-utils' pixel coordinates, with a voxel in when its centre lies in an
#    odd number of its slice's contours (matplotlib's point-in-polygon; the DICOM convention our writer
#    promises), equal our labels voxel for voxel, and each contour lies in the plane of the image it
#    references.
# 2. Bounded: rt-utils' own masks. Our contours run along pixel edges (half-integer pixel coordinates,
#    half-way between voxel centres in and out); rt-utils rounds each vertex to a whole pixel (the tie
#    at .5 falls either way through its float32 transform) and cv.fillPoly fills the polygon boundary
#    included. So an edge may move out onto the next pixel row or column and a hole may shrink by one
#    pixel: a one-pixel rim, and nothing else. Every voxel of ours is in its mask, every voxel of its
#    mask is within one in-plane pixel of ours, on the same slices, and where no gap narrower than the
#    rim separates parts of a region, eroding its mask by one pixel stays inside ours. (A box does not
#    come back as a box grown by one: our corners are cut half a pixel deep and after rounding the cut
#    can take the new corner pixel.)
#
# rt-utils assumes square images (its slice mask is allocated Columns x Rows and filled as rows x
# columns) and square pixels (it scales the column direction by the row spacing), so its series here
# have both.

_IN_PLANE = np.zeros((3, 3, 3), bool)
_IN_PLANE[:, :, 1] = True  # the 8 in-plane neighbours: rt-utils never moves a contour across slices

SQUARE_GEOMETRIES = {
    "axial": np.array([[-0.9, 0, 0, 20.0], [0, -0.9, 0, 30.0], [0, 0, 2.0, -50.0], [0, 0, 0, 1]]),
    "coronal": np.array([[-0.9, 0, 0, 20.0], [0, 0, 2.0, 30.0], [0, -0.9, 0, -50.0], [0, 0, 0, 1]]),
    # rotated 20 degrees about the patient's left-right axis, slices stacked along the tilted normal
    "oblique": np.array([[-0.9, 0, 0, 20.0], [0, -0.9 * np.cos(0.35), 2.0 * np.sin(0.35), 30.0],
                         [0, -0.9 * np.sin(0.35), -2.0 * np.cos(0.35), -50.0], [0, 0, 0, 1]]),
}


def _rt_utils(series_folder: Path, rtstruct: Path):
    rt_utils = pytest.importorskip("rt_utils")
    return rt_utils.RTStructBuilder.create_from(dicom_series_path=str(series_folder), rt_struct_path=str(rtstruct))


def _rt_utils_masks(rt) -> dict[str, np.ndarray]:
    """ROI name -> rt-utils' mask, as (X, Y, Z) = (column, row, slice) like our volumes.

    rt-utils returns (rows, columns, slices) in its slice order, ascending along the image normal, which
    is also ours (the callers' phantoms are asymmetric in every axis).
    """
    return {name: rt.get_roi_mask_by_name(name).transpose(1, 0, 2) for name in rt.get_roi_names()}


def _centres_inside_rt_utils_contours(rt) -> dict[str, np.ndarray]:
    """ROI name -> (X, Y, Z) mask of the voxels whose centre lies inside an odd number of the contours
    rt-utils finds for that slice, in rt-utils' pixel coordinates (matplotlib's point-in-polygon)."""
    from matplotlib.path import Path as Polygon
    from rt_utils import ds_helper, image_helper

    images = rt.series_data
    to_pixel = image_helper.get_patient_to_pixel_transformation_matrix(images)
    rows, cols = int(images[0].Rows), int(images[0].Columns)
    centres = np.stack(np.meshgrid(np.arange(cols), np.arange(rows), indexing="ij"), -1).reshape(-1, 2)  # (x, y)
    masks = {}
    for roi in rt.ds.StructureSetROISequence:
        contours = ds_helper.get_contour_sequence_by_roi_number(rt.ds, roi.ROINumber)
        mask = np.zeros((cols, rows, len(images)), bool)
        for k, image in enumerate(images):
            for data in image_helper.get_slice_contour_data(image, contours):
                xyz = image_helper.apply_transformation_to_3d_points(np.reshape(data, (-1, 3)), to_pixel)
                np.testing.assert_allclose(xyz[:, 2], k, atol=1e-3, err_msg="a contour off its image's plane")
                mask[:, :, k] ^= Polygon(xyz[:, :2]).contains_points(centres).reshape(cols, rows)
        masks[str(roi.ROIName)] = mask
    return masks


def _assert_one_pixel_rim(ours: np.ndarray, theirs: np.ndarray, name: str, *, gaps: bool = False) -> float:
    """rt-utils' mask is ours plus at most a one-pixel in-plane rim; returns the Dice."""
    assert theirs.shape == ours.shape, name
    assert not (ours & ~theirs).any(), f"{name}: {int((ours & ~theirs).sum())} of our voxels missing in rt-utils"
    outside = theirs & ~ndimage.binary_dilation(ours, _IN_PLANE)
    assert not outside.any(), f"{name}: {int(outside.sum())} rt-utils voxels further than one pixel from ours"
    np.testing.assert_array_equal(theirs.any(axis=(0, 1)), ours.any(axis=(0, 1)), err_msg=f"{name}: slices")
    if not gaps:
        core = ndimage.binary_erosion(theirs, _IN_PLANE)
        assert not (core & ~ours).any(), f"{name}: rt-utils fills more than a rim ({int((core & ~ours).sum())})"
    return 2 * int((ours & theirs).sum()) / int(ours.sum() + theirs.sum())


def _assert_rt_utils_reads(rt, labels: np.ndarray, names: list[str], *, gaps: bool = False) -> dict[str, float]:
    """Both comparisons for every ROI; returns the Dice of rt-utils' own masks."""
    assert rt.get_roi_names() == names
    for name, mask in _centres_inside_rt_utils_contours(rt).items():
        np.testing.assert_array_equal(mask, labels == ID[name], err_msg=name)
    return {name: _assert_one_pixel_rim(labels == ID[name], theirs, name, gaps=gaps)
            for name, theirs in _rt_utils_masks(rt).items()}


@pytest.mark.parametrize("geometry", sorted(SQUARE_GEOMETRIES))
def test_rtstruct_read_by_rt_utils(geometry, tmp_path, write_dicom_series):
    """The phantom (a box, a ring with a hole, two blobs per slice) on a square series in three orientations."""
    write_dicom_series(tmp_path / "series", np.zeros((24, 24, 8)), SQUARE_GEOMETRIES[geometry], description="square")
    series = read_dicom_series(tmp_path / "series")
    labels = _phantom_labels(series.volume.shape)
    rt = _rt_utils(tmp_path / "series", write_rtstruct(labels, series, TOTAL, tmp_path / "rt.dcm"))
    _assert_rt_utils_reads(rt, labels, ["spleen", "kidney_left", "liver"])
    liver = _rt_utils_masks(rt)["liver"]
    assert liver[:, :, 2:7].any(axis=(0, 1)).all() and not liver[14, 12, :].any()  # the hole's centre stays out


def test_rtstruct_of_random_blobs_and_speckle_read_by_rt_utils(tmp_path, write_dicom_series):
    """Smooth random blobs keep the whole rim bound; speckle (one-pixel gaps and holes, which the rim
    fills) keeps the containment and the one-pixel distance. Both are exact at pixel centres."""
    write_dicom_series(tmp_path / "series", np.zeros((48, 48, 8)), SQUARE_GEOMETRIES["axial"], description="square")
    series = read_dicom_series(tmp_path / "series")
    rng = np.random.default_rng(3)
    blobs = np.zeros(series.volume.shape, np.uint8)
    blobs[ndimage.gaussian_filter(rng.random(series.volume.shape), (3, 3, 1)) > 0.52] = ID["liver"]
    rt = _rt_utils(tmp_path / "series", write_rtstruct(blobs, series, TOTAL, tmp_path / "blobs.dcm"))
    _assert_rt_utils_reads(rt, blobs, ["liver"])
    speckle = np.where(rng.random(series.volume.shape) < 0.45, ID["aorta"], 0).astype(np.uint8)
    rt = _rt_utils(tmp_path / "series", write_rtstruct(speckle, series, TOTAL, tmp_path / "speckle.dcm"))
    _assert_rt_utils_reads(rt, speckle, ["aorta"], gaps=True)


def _with_filled_uids(source: Path, series, folder: Path) -> Path:
    """A copy of the real series whose blank UIDs hold what our reader filled in (pixel data untouched)."""
    folder.mkdir()
    for path in sorted(source.iterdir()):
        ds = pydicom.dcmread(path)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = series.study_uid, series.series_uid
        ds.FrameOfReferenceUID = series.datasets[0].FrameOfReferenceUID
        ds.save_as(folder / path.name)
    return folder


def test_rtstruct_on_the_real_series_read_by_rt_utils(dicom_ct_j2k, tmp_path):
    """rt-utils matches contours to images by the SOP Instance UID in each image file; the real files
    have it blank (it is only in their file meta, where our reader takes it from), so rt-utils refuses
    our RTSTRUCT against them, as a planning system holding those files would. Against a copy whose
    blank UIDs hold the filled ones (pixel data untouched, still JPEG 2000) it reads it."""
    rt_utils = pytest.importorskip("rt_utils")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the blank-UID warning, tested in test_dicom_input
        series = read_dicom_series(dicom_ct_j2k)
    x, y, z = np.meshgrid(*[np.arange(n) for n in series.volume.shape], indexing="ij")
    labels = np.zeros(series.volume.shape, np.uint8)
    labels[200:300, 220:320, 5:15] = ID["liver"]
    labels[(x - 160) ** 2 + (y - 265) ** 2 + ((z - 10) * 2 / 0.9765625) ** 2 <= 30**2] = ID["aorta"]  # a ball
    ellipse = (x - 360) ** 2 / 40**2 + (y - 150) ** 2 / 25**2
    labels[(ellipse <= 1) & (z < 15)] = ID["spleen"]
    labels[ellipse <= 0.09] = 0  # with a hole
    rtstruct = write_rtstruct(labels, series, TOTAL, tmp_path / "rt.dcm")
    with pytest.raises(Exception, match="references image.* not contained in input series"):
        rt_utils.RTStructBuilder.create_from(dicom_series_path=str(dicom_ct_j2k), rt_struct_path=str(rtstruct))
    rt = _rt_utils(_with_filled_uids(dicom_ct_j2k, series, tmp_path / "series"), rtstruct)
    dice = _assert_rt_utils_reads(rt, labels, ["spleen", "liver", "aorta"])
    # measured: liver 0.990 (the 100 x 100 box gains one row and one column), aorta 0.981, spleen 0.977
    assert dice["liver"] >= 0.99 and dice["aorta"] >= 0.975 and dice["spleen"] >= 0.97, dice
    assert not _rt_utils_masks(rt)["spleen"][360, 150].any()  # the hole


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
