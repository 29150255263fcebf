"""DICOM input: the real JPEG 2000 series against SimpleITK, series in nine geometries and the real one against
dcm2niix and dicom2nifti, series choice, geometry, bad input."""

from __future__ import annotations

import warnings
import zipfile
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from totalseg.errors import InputError
from totalseg.io import read_volume
from totalseg.io.dicom import default_task, read_dicom_input, read_dicom_series
from totalseg.io.readers import ras_affine_from_lps

pydicom = pytest.importorskip("pydicom")

AXIAL = np.diag([-0.8, -0.8, 2.5, 1.0])  # LPS-stored axial slices, as scanners write them
AXIAL[:3, 3] = [100.0, 120.0, -300.0]


def _data(shape=(12, 10, 6), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-1000, 1500, shape).astype(np.int16)


def _zip(folder: Path, path: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, f"study/{file.relative_to(folder)}")
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return path


def _read(source):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        series = read_dicom_series(source)
    return series, [str(w.message) for w in caught]


# --- the real series -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(dicom_ct_j2k):
    return _read(dicom_ct_j2k)


def test_real_j2k_series_equals_the_simpleitk_conversion(real, dicom_ct_j2k):
    series, messages = real
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(dicom_ct_j2k)))
    reference = reader.Execute()
    expected = sitk.GetArrayFromImage(reference).transpose(2, 1, 0)
    vol = series.volume
    assert vol.shape == (512, 512, 20) and vol.array.dtype == np.int16
    np.testing.assert_array_equal(vol.array, expected)
    expected_affine = ras_affine_from_lps(reference.GetDirection(), reference.GetSpacing(), reference.GetOrigin())
    np.testing.assert_allclose(vol.affine, expected_affine, atol=1e-4)
    assert vol.array.min() == -1024  # RescaleIntercept -1024 applied: air outside the field of view
    assert series.modality == "CT" and default_task(series) == "total"


def test_real_series_blank_uids_are_filled_and_said(real):
    series, messages = real
    assert any("blank" in m and "Series Instance UID" in m for m in messages)
    uids = [str(ds.SOPInstanceUID) for ds in series.datasets]
    assert all(uids) and len(set(uids)) == 20
    meta_uids = [str(ds.file_meta.MediaStorageSOPInstanceUID) for ds in series.datasets]
    assert uids == meta_uids  # taken from the file meta, not invented
    assert series.study_uid and series.series_uid and all(str(ds.SOPClassUID) for ds in series.datasets)


def test_real_series_reads_the_same_from_a_zip(real, dicom_ct_j2k, tmp_path):
    series, _ = _read(_zip(dicom_ct_j2k, tmp_path / "study.zip"))
    np.testing.assert_array_equal(series.volume.array, real[0].volume.array)
    np.testing.assert_array_equal(series.volume.affine, real[0].volume.affine)
    assert series.series_uid == real[0].series_uid  # derived UIDs are the same on every read


# --- series choice and modality --------------------------------------------------------------------


def test_zip_with_several_series_uses_the_ct_with_most_slices(write_dicom_series, tmp_path):
    study = tmp_path / "study"
    write_dicom_series(study / "a", _data((12, 10, 4), 1), AXIAL, series_number=2, description="scout")
    write_dicom_series(study / "b", _data((12, 10, 9), 2), AXIAL, series_number=3, description="abdomen")
    write_dicom_series(study / "c", _data((12, 10, 6), 3), AXIAL, modality="MR", series_number=4)
    archive = _zip(study, tmp_path / "study.zip", {"study/README.txt": b"not dicom", "DICOMDIR": b"x"})
    series, messages = _read(archive)
    assert series.volume.shape == (12, 10, 9)
    np.testing.assert_array_equal(series.volume.array, _data((12, 10, 9), 2))
    assert series.description == "series 3 'abdomen' (CT, 9 slices)"
    assert any("3 image series; using series 3 'abdomen' (CT, 9 slices)" in m for m in messages)
    assert any("skipped 1 non-DICOM file(s), e.g. study/README.txt" in m for m in messages)


def test_mr_series_picks_total_mr(write_dicom_series, tmp_path):
    write_dicom_series(tmp_path / "mr", _data(), AXIAL, modality="MR")
    series = read_dicom_input(tmp_path / "mr")
    assert series.modality == "MR" and default_task(series) == "total_mr"
    assert read_dicom_input(tmp_path / "x.nii.gz") is None and default_task(None) == "total"


def test_a_dcm_file_reads_its_series(write_dicom_series, tmp_path):
    files = write_dicom_series(tmp_path / "s", _data(), AXIAL)
    vol = read_volume(files[3])
    np.testing.assert_array_equal(vol.array, _data())
    np.testing.assert_allclose(vol.affine, AXIAL, atol=1e-5)


# --- values and geometry ---------------------------------------------------------------------------


def test_fractional_rescale_gives_float32_values(write_dicom_series, tmp_path):
    data = _data().astype(np.float64) * 0.5
    write_dicom_series(tmp_path / "s", data, AXIAL, slope=0.5, intercept=-1024)
    vol = read_volume(tmp_path / "s")
    assert vol.array.dtype == np.float32
    np.testing.assert_array_equal(vol.array, data.astype(np.float32))


def test_slices_are_sorted_by_position_not_by_file_name(write_dicom_series, tmp_path):
    files = write_dicom_series(tmp_path / "s", _data(), AXIAL)
    for k, file in enumerate(files):  # names now sort in reverse slice order
        file.rename(file.with_name(f"im{len(files) - k:03d}.dcm"))
    np.testing.assert_array_equal(read_volume(tmp_path / "s").array, _data())


def test_oblique_series_keeps_its_geometry(write_dicom_series, tmp_path):
    c, s = np.cos(0.3), np.sin(0.3)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]) @ np.diag([0.7, 0.9, 3.0])
    affine[:3, 3] = [5.0, -7.0, 11.0]
    write_dicom_series(tmp_path / "s", _data(), affine)
    vol = read_volume(tmp_path / "s")
    np.testing.assert_array_equal(vol.array, _data())
    np.testing.assert_allclose(vol.affine, affine, atol=1e-5)


def test_gantry_tilt_gives_a_sheared_affine_and_a_warning(write_dicom_series, tmp_path):
    shift = np.tan(np.radians(15.0)) * 2.5  # each slice moves along y by this much: 15 degrees tilt
    positions = [[-100.0, -120.0 + k * shift, -300.0 + k * 2.5] for k in range(6)]
    write_dicom_series(tmp_path / "s", _data(), AXIAL, positions_lps=positions)
    series, messages = _read(tmp_path / "s")
    assert any("15.00 degrees" in m and "gantry tilt" in m for m in messages)
    np.testing.assert_allclose(series.volume.affine[:3, 2], [0.0, -shift, 2.5], atol=1e-5)
    last = series.volume.affine @ [0, 0, 5, 1]
    np.testing.assert_allclose(last[:3], [100.0, 120.0 - 5 * shift, -300.0 + 12.5], atol=1e-4)


# --- bad input: one InputError, naming the problem and the fix ------------------------------------


def _positions(steps):
    z = np.concatenate([[0.0], np.cumsum(steps)])
    return [[-100.0, -120.0, -300.0 + v] for v in z]


@pytest.mark.parametrize(
    ("steps", "match"),
    [
        ([2.5, 2.5, 5.0, 2.5, 2.5], r"1 slice\(s\) missing \(a gap of 5.00 mm"),
        ([2.5, 2.5, 3.1, 1.9, 2.5], r"uneven slice spacing \(1.900 to 3.100 mm\); resample it"),
        ([2.5, 0.0, 2.5, 2.5, 2.5], r"1 slice\(s\) share a position with another"),
    ],
)
def test_irregular_stacks_are_refused(write_dicom_series, tmp_path, steps, match):
    write_dicom_series(tmp_path / "s", _data(), AXIAL, positions_lps=_positions(steps))
    with pytest.raises(InputError, match=match):
        read_volume(tmp_path / "s")


def test_mixed_image_sizes_are_refused(write_dicom_series, tmp_path):
    uid = "1.2.826.0.1.3680043.8.498.77"
    write_dicom_series(tmp_path / "s" / "a", _data((12, 10, 3)), AXIAL, series_uid=uid)
    shifted = AXIAL.copy()
    shifted[2, 3] += 3 * 2.5
    files = write_dicom_series(tmp_path / "s" / "b", _data((14, 10, 3)), shifted, series_uid=uid)
    for k, file in enumerate(files):
        file.rename(file.with_name(f"b{k}.dcm"))
    with pytest.raises(InputError, match=r"mixes image sizes \(10x12, 10x14\); export one series"):
        read_volume(tmp_path / "s")


def test_no_image_series_is_refused(tmp_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = "1.2.840.10008.5.1.4.1.1.481.3", generate_uid(), "RTSTRUCT"
    (tmp_path / "s").mkdir()
    ds.save_as(tmp_path / "s" / "rs.dcm", enforce_file_format=True)
    with pytest.raises(InputError, match="no CT or MR image series .*modality RTSTRUCT.*pass a study holding"):
        read_volume(tmp_path / "s")


def test_ultrasound_only_is_refused(write_dicom_series, tmp_path):
    write_dicom_series(tmp_path / "s", _data(), AXIAL, modality="US")
    with pytest.raises(InputError, match="no CT or MR image series"):
        read_volume(tmp_path / "s")


def test_single_slice_is_refused(write_dicom_series, tmp_path):
    write_dicom_series(tmp_path / "s", _data((12, 10, 1)), AXIAL)
    with pytest.raises(InputError, match="has 1 slice; a 3-D volume needs at least 2"):
        read_volume(tmp_path / "s")


def test_zip_of_non_dicom_files_is_refused(tmp_path):
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.txt", "hello")
        zf.writestr("b/c.dcm", b"\x00" * 300)
    with pytest.raises(InputError, match="2 files, none of them DICOM; pass a folder or .zip holding one DICOM"):
        read_volume(archive)


def test_zip_path_traversal_is_refused(write_dicom_series, tmp_path):
    files = write_dicom_series(tmp_path / "s", _data(), AXIAL)
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in files:
            zf.write(file, file.name)
        zf.write(files[0], "../../outside.dcm")
    with pytest.raises(InputError, match=r"'\.\./\.\./outside\.dcm' has a '\.\.' component; refusing"):
        read_volume(archive)
    assert not (tmp_path.parent / "outside.dcm").exists()


def test_corrupt_zip_and_missing_path_are_refused(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="not a readable zip file"):
        read_volume(tmp_path / "bad.zip")
    with pytest.raises(InputError, match="not found"):
        read_dicom_series(tmp_path / "nope")


def test_undecodable_pixel_data_names_the_fix(write_dicom_series, tmp_path):
    files = write_dicom_series(tmp_path / "s", _data(), AXIAL)
    ds = pydicom.dcmread(files[2])
    ds.PixelData = ds.PixelData[:10]  # truncated frame
    ds.save_as(files[2], enforce_file_format=True)
    with pytest.raises(InputError, match="cannot decode pixel data"):
        read_volume(tmp_path / "s")


# JPEG 2000 decoding is covered by the real series (no encoder handles frames this small).
@pytest.mark.parametrize("syntax", ["RLELossless", "JPEGLSLossless"])
def test_compressed_transfer_syntaxes_decode(write_dicom_series, tmp_path, syntax):
    uid = getattr(pydicom.uid, syntax)
    files = write_dicom_series(tmp_path / "s", _data(), AXIAL, intercept=-1024)
    for file in files:
        ds = pydicom.dcmread(file)
        try:
            ds.compress(uid)
        except (RuntimeError, NotImplementedError) as exc:  # no encoder here (decoding is what we test)
            pytest.skip(f"no {syntax} encoder: {exc}")
        ds.save_as(file, enforce_file_format=True)
    assert pydicom.dcmread(files[0]).file_meta.TransferSyntaxUID == uid
    np.testing.assert_array_equal(read_volume(tmp_path / "s").array, _data())


# --- against dcm2niix and dicom2nifti ---------------------------------------------------------------
# Series written with pydicom in several geometries, converted by two independent tools. Our volume
# must hold the same value at the same world position as the tool's NIfTI: both are brought to the
# closest canonical orientation with nibabel (the tools flip and order axes their own way: dcm2niix
# flips the rows, for instance), then the affines agree within 1e-3 mm and the arrays exactly. The
# tools store rescaled values their own way (raw integers with scl_slope/scl_inter, or floats), so
# values are compared as float64 after nibabel applies the NIfTI scaling.


def _lps_to_ras(columns_lps) -> np.ndarray:
    """The RAS affine of a grid given as LPS columns (column step, row step, slice step, origin)."""
    lps = np.eye(4)
    lps[:3, :] = np.asarray(columns_lps, dtype=np.float64).T
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def _rotation(axis: int, degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    i, j = [a for a in range(3) if a != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


_OBLIQUE = _rotation(2, 10.0) @ _rotation(0, 20.0)

# name -> (RAS affine of (column, row, slice) indices, writer options); images are 12 columns x 10 rows
GEOMETRIES = {
    # instance 1 at the feet, stacked head-wards (the slice step along the image normal)
    "axial_ascending": (_lps_to_ras([[0.8, 0, 0], [0, 0.8, 0], [0, 0, 2.5], [-100.0, -120.0, -300.0]]), {}),
    # instance 1 at the head, stacked foot-wards (against the normal), as many CT scanners write
    "axial_descending": (_lps_to_ras([[0.8, 0, 0], [0, 0.8, 0], [0, 0, -2.5], [-100.0, -120.0, 200.0]]), {}),
    "sagittal": (_lps_to_ras([[0, 0.9, 0], [0, 0, -0.9], [3.0, 0, 0], [-20.0, -80.0, 60.0]]), {}),
    "coronal": (_lps_to_ras([[0.9, 0, 0], [0, 0, -0.9], [0, -3.0, 0], [-50.0, 40.0, 70.0]]), {}),
    "oblique": (_lps_to_ras([*(_OBLIQUE @ np.diag([0.8, 0.8, 2.5])).T, [-90.0, -110.0, -250.0]]), {}),
    "non_square_pixels": (_lps_to_ras([[0.7, 0, 0], [0, 0.9, 0], [0, 0, 2.0], [-100.0, -120.0, -300.0]]), {}),
    "fractional_rescale": (_lps_to_ras([[0.8, 0, 0], [0, 0.8, 0], [0, 0, 2.5], [-100.0, -120.0, -300.0]]),
                           {"slope": 0.5, "intercept": -1024.0}),
    # an oblique sagittal MR (1 mm pixels, 1.1 mm slices) with unsigned 16-bit values beyond int16's range
    "mr": (_lps_to_ras([*(_rotation(1, 15.0) @ np.array([[0, 0, 1.1], [1.0, 0, 0], [0, -1.0, 0]])).T,
                        [30.0, -90.0, 80.0]]), {"modality": "MR", "unsigned": True}),
    # a Rescale Slope of its own on each slice (float values)
    "mr_slope_per_slice": (_lps_to_ras([[0.8, 0, 0], [0, 0.8, 0], [0, 0, 2.5], [-100.0, -120.0, -300.0]]),
                           {"modality": "MR", "unsigned": True, "slope": [0.5, 1.25, 2.0, 0.75, 1.5, 3.0]}),
}


def _geometry_data(name: str, options: dict) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    stored = rng.integers(0, 40000, (12, 10, 6)) if options.get("unsigned") else rng.integers(-1000, 1500, (12, 10, 6))
    return stored * np.asarray(options.get("slope", 1.0)) + options.get("intercept", 0.0)


def _dcm2niix(folder: Path, out: Path):
    dcm2niix = pytest.importorskip("dcm2niix")  # the PyPI package, which ships the binary
    out.mkdir()
    result = dcm2niix.main(["-z", "n", "-b", "n", "-f", "converted", "-o", str(out), str(folder)],
                           capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = out.glob("converted*.nii")  # one volume, nothing split off (no tilt correction, no localizer)
    return nib.load(path)


def _dicom2nifti(folder: Path, out: Path):
    dicom2nifti = pytest.importorskip("dicom2nifti")
    out.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dicom2nifti.dicom_series_to_nifti(str(folder), str(out / "converted.nii"), reorient_nifti=False)
    return nib.load(out / "converted.nii")


CONVERTERS = {"dcm2niix": _dcm2niix, "dicom2nifti": _dicom2nifti}


def _assert_same_in_world(volume, reference, tool: str) -> None:
    """Same values at the same world positions, after both go to the closest canonical orientation."""
    ours = nib.as_closest_canonical(nib.Nifti1Image(volume.array, volume.affine))
    theirs = nib.as_closest_canonical(reference)
    assert ours.shape == theirs.shape[:3], tool
    np.testing.assert_allclose(ours.affine, theirs.affine, atol=1e-3, err_msg=tool)
    reference_values = np.asanyarray(theirs.get_fdata()).reshape(ours.shape)
    np.testing.assert_array_equal(np.asanyarray(ours.dataobj).astype(np.float64), reference_values, err_msg=tool)


@pytest.mark.parametrize("tool", sorted(CONVERTERS))
@pytest.mark.parametrize("geometry", list(GEOMETRIES))
def test_series_equals_the_independent_conversion(write_dicom_series, tmp_path, geometry, tool):
    affine, options = GEOMETRIES[geometry]
    data = _geometry_data(geometry, options)
    write_dicom_series(tmp_path / "s", data, affine, **options)
    volume = read_volume(tmp_path / "s")
    _assert_same_in_world(volume, CONVERTERS[tool](tmp_path / "s", tmp_path / "out"), tool)
    # and the grid that was written (our slice axis runs along the image normal, so it may be reversed)
    _assert_same_in_world(volume, nib.Nifti1Image(data, affine), "written")


@pytest.mark.parametrize("tool", sorted(CONVERTERS))
def test_real_series_equals_the_independent_conversion(real, dicom_ct_j2k, tmp_path, tool):
    _assert_same_in_world(real[0].volume, CONVERTERS[tool](dicom_ct_j2k, tmp_path / "out"), tool)
