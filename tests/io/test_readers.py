"""read_volume: every reader round-trips, geometry is right, bad inputs give one clear InputError."""

from __future__ import annotations

import doctest
import gzip
import sys
import warnings
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from totalseg.errors import InputError
from totalseg.io import read_volume, readers
from totalseg.io.readers import READERS, ras_affine_from_lps, supported_extensions

CT_SMALL = Path(__file__).resolve().parents[1] / "data" / "ct_small_3mm.nii.gz"


def _rotation(ax: float, az: float) -> np.ndarray:
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ rx


def _affine(kind: str) -> np.ndarray:
    """RAS affines of LPS-, LAS- and obliquely stored images with anisotropic voxels."""
    spacing = np.array([0.7, 1.3, 2.5])
    rot = {"lps": np.diag([-1.0, -1.0, 1.0]), "las": np.diag([-1.0, 1.0, 1.0]), "oblique": _rotation(0.2, 0.35)}[kind]
    affine = np.eye(4)
    affine[:3, :3] = rot * spacing
    affine[:3, 3] = [12.5, -30.0, 41.0]
    return affine


AFFINES = ["lps", "las", "oblique"]


def _volume_data(shape=(7, 9, 5), dtype=np.int16, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-1000, 2000, shape).astype(dtype)


def _save_nifti(tmp_path: Path, data: np.ndarray, affine: np.ndarray, name="img.nii.gz") -> Path:
    path = tmp_path / name
    nib.save(nib.Nifti1Image(data, affine), path)
    return path


def _sitk_image(data_xyz: np.ndarray, affine_ras: np.ndarray) -> sitk.Image:
    img = sitk.GetImageFromArray(data_xyz.transpose(2, 1, 0))
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine_ras
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    img.SetSpacing(spacing.tolist())
    img.SetDirection((lps[:3, :3] / spacing).ravel().tolist())
    img.SetOrigin(lps[:3, 3].tolist())
    return img


# --- conformance: every registered reader round-trips every extension it claims ------------------


def _write_any(request, tmp_path: Path, ext: str, data: np.ndarray, affine: np.ndarray) -> Path:
    path = tmp_path / f"img{ext}"
    if ext in (".nii", ".nii.gz"):
        nib.save(nib.Nifti1Image(data, affine), path)
    elif ext in (".zip", ".dcm"):  # a DICOM series: a zip of it, or one of its files
        files = request.getfixturevalue("write_dicom_series")(tmp_path / "series", data, affine, intercept=-1024)
        if ext == ".dcm":
            return files[len(files) // 2]
        with zipfile.ZipFile(path, "w") as archive:
            for file in files:
                archive.write(file, f"study/{file.name}")
    else:
        sitk.WriteImage(_sitk_image(data, affine), str(path))
    return path


def _canonical(data: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    img = nib.as_closest_canonical(nib.Nifti1Image(data, affine))
    return np.asanyarray(img.dataobj), img.affine


@pytest.mark.parametrize("ext", [ext for reader in READERS for ext in reader.extensions])
@pytest.mark.parametrize("kind", AFFINES)
def test_every_reader_round_trips(request, tmp_path, ext, kind):
    data, affine = _volume_data(), _affine(kind)
    vol = read_volume(_write_any(request, tmp_path, ext, data, affine))
    assert vol.array.dtype == np.int16
    if ext in (".zip", ".dcm"):
        # DICOM stacks slices along the image normal, so a left-handed grid comes back with its
        # slice axis reversed: the same voxels at the same places, compared in canonical order.
        got, want = _canonical(vol.array, vol.affine), _canonical(data, affine)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_allclose(got[1], want[1], atol=1e-4)
    else:
        np.testing.assert_array_equal(vol.array, data)
        np.testing.assert_allclose(vol.affine, affine, atol=1e-5)
    np.testing.assert_allclose(vol.spacing_mm, [0.7, 1.3, 2.5], atol=1e-5)
    assert vol.header is not None and vol.header.get_data_shape() == data.shape


def test_each_reader_claims_only_its_extensions():
    for reader in READERS:
        for ext in supported_extensions():
            assert reader.can_read(Path(f"x{ext.upper()}")) == (ext in reader.extensions)
    assert supported_extensions() == (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd", ".zip", ".dcm")


def test_only_the_dicom_reader_takes_folders(tmp_path):
    assert [type(reader).__name__ for reader in READERS if reader.can_read(tmp_path)] == ["DicomReader"]


# --- NIfTI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", AFFINES)
def test_nifti_keeps_header_affine_and_dtype(tmp_path, kind):
    data = _volume_data((8, 11, 3))
    img = nib.Nifti1Image(data, _affine(kind))
    img.header.set_qform(_affine(kind), code=1)
    img.header["descrip"] = b"scanner xyz"
    nib.save(img, tmp_path / "a.nii")
    loaded = nib.load(tmp_path / "a.nii")
    vol = read_volume(tmp_path / "a.nii")
    np.testing.assert_array_equal(vol.affine, loaded.affine)
    assert vol.header.binaryblock == loaded.header.binaryblock
    assert vol.header is not loaded.header
    np.testing.assert_array_equal(vol.array, loaded.get_fdata())


def test_scaled_nifti_gives_the_official_float64_values(tmp_path):
    img = nib.Nifti1Image(_volume_data(dtype=np.int16), np.eye(4))
    img.header.set_slope_inter(0.37, -12.5)
    img.set_data_dtype(np.int16)
    path = tmp_path / "scaled.nii.gz"
    nib.save(img, path)
    vol = read_volume(path)
    expected = nib.load(path).get_fdata()
    assert vol.array.dtype == np.float64
    np.testing.assert_array_equal(vol.array, expected)


@pytest.mark.parametrize(("slope", "inter", "dtype"), [(1.0, -1024.0, np.int16), (40.0, -1024.0, np.int32)])
def test_integral_scaling_stays_integer_and_exact(tmp_path, slope, inter, dtype):
    raw = np.random.default_rng(1).integers(0, 4000, (6, 5, 4)).astype(np.uint16)
    img = nib.Nifti1Image(raw, np.eye(4))
    img.set_data_dtype(np.uint16)
    img.header.set_slope_inter(slope, inter)
    path = tmp_path / "ct.nii"
    # keep the raw values on disk: write the header's scaling with an unscaled array writer
    hdr = img.header.copy()
    with open(path, "wb") as f:
        hdr.write_to(f)
        f.write(bytes(int(hdr.get_data_offset()) - f.tell()))
        f.write(raw.tobytes(order="F"))
    vol = read_volume(path)
    assert vol.array.dtype == dtype
    np.testing.assert_array_equal(vol.array, nib.load(path).get_fdata())


def test_float_and_big_endian_data_keep_values_in_native_order(tmp_path):
    data = np.random.default_rng(2).normal(0, 100, (5, 6, 7)).astype(">f4")
    img = nib.Nifti1Image(data, np.eye(4))
    path = tmp_path / "be.nii"
    nib.save(img, path)
    vol = read_volume(path)
    assert vol.array.dtype == np.dtype("float32") and vol.array.dtype.isnative
    np.testing.assert_array_equal(vol.array, data.astype(np.float32))


def test_native_order_spelled_explicitly_is_not_copied():
    # nibabel gives "<i2" for little-endian files; on a little-endian machine that is native.
    explicit = np.zeros((4, 5, 6), np.dtype("<i2" if sys.byteorder == "little" else ">i2"))
    assert readers._native(explicit) is explicit


def test_4d_keeps_the_first_volume_with_a_warning_and_a_fresh_header(tmp_path):
    data = np.stack([_volume_data(seed=s) for s in range(3)], axis=-1)
    path = _save_nifti(tmp_path, data, _affine("oblique"))
    with pytest.warns(UserWarning, match=r"shape \(7, 9, 5, 3\); using the first 3-D volume"):
        vol = read_volume(path)
    np.testing.assert_array_equal(vol.array, data[..., 0])
    np.testing.assert_allclose(vol.affine, _affine("oblique"), atol=1e-6)
    # as the official tool: nib.Nifti1Image(data[..., 0], affine).header
    assert vol.header.get_data_shape() == (7, 9, 5)
    assert (int(vol.header["sform_code"]), int(vol.header["qform_code"])) == (2, 0)


@pytest.mark.parametrize(("shape", "warns"), [((7, 9, 5, 1), False), ((7, 9, 5, 1, 1), False), ((7, 9, 5, 1, 2), True)])
def test_singleton_extra_dimensions_are_squeezed(tmp_path, shape, warns):
    data = np.random.default_rng(3).integers(0, 100, shape).astype(np.int16)
    path = _save_nifti(tmp_path, data, np.eye(4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vol = read_volume(path)
    assert bool(caught) == warns
    np.testing.assert_array_equal(vol.array, data.reshape(data.shape[:3] + (-1,))[..., 0])


def test_2d_is_an_input_error(tmp_path):
    path = _save_nifti(tmp_path, np.zeros((5, 6), np.int16), np.eye(4))
    with pytest.raises(InputError, match=r"img\.nii\.gz: expected a 3-D image, got shape \(5, 6\); pass one volume"):
        read_volume(path)


def test_partly_nan_float_image_gets_the_minimum_with_a_warning(tmp_path):
    data = np.random.default_rng(4).normal(0, 100, (6, 6, 6)).astype(np.float32)
    data[0, 0, :3] = np.nan
    data[1, 1, 1] = np.inf
    finite = data[np.isfinite(data)]
    path = _save_nifti(tmp_path, data, np.eye(4))
    with pytest.warns(UserWarning, match="4 of 216 voxels are NaN or infinite"):
        vol = read_volume(path)
    assert np.isfinite(vol.array).all()
    np.testing.assert_array_equal(vol.array[0, 0, :3], finite.min())
    assert vol.array[1, 1, 1] == finite.max()


def test_all_nan_is_an_input_error(tmp_path):
    path = _save_nifti(tmp_path, np.full((4, 4, 4), np.nan, np.float32), np.eye(4))
    with pytest.raises(InputError, match=r"img\.nii\.gz: every voxel is NaN"):
        read_volume(path)


def test_nibabel_images_are_accepted_directly():
    data = _volume_data()
    for cls in (nib.Nifti1Image, nib.Nifti2Image):
        vol = read_volume(cls(data, _affine("las")))
        np.testing.assert_array_equal(vol.array, data)
        np.testing.assert_array_equal(vol.affine, _affine("las"))
        assert isinstance(vol.header, nib.Nifti1Header)


def test_in_memory_2d_image_is_an_input_error():
    with pytest.raises(InputError, match=r"the input image: expected a 3-D image, got shape \(4, 4\)"):
        read_volume(nib.Nifti1Image(np.zeros((4, 4), np.float32), np.eye(4)))


def test_structured_dtype_is_an_input_error():
    img = nib.Nifti1Image(np.zeros((3, 3, 3), [("R", "u1"), ("G", "u1"), ("B", "u1")]), np.eye(4))
    with pytest.raises(InputError, match="unsupported voxel type"):
        read_volume(img)


# --- bad files -----------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.nii\.gz: file not found; check the path"):
        read_volume(tmp_path / "nope.nii.gz")


def test_empty_file(tmp_path):
    (tmp_path / "empty.nii.gz").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.nii\.gz: empty file \(0 bytes\)"):
        read_volume(tmp_path / "empty.nii.gz")


@pytest.mark.parametrize("name", ["notes.nii.gz", "notes.nii"])
def test_text_file_named_nifti(tmp_path, name):
    (tmp_path / name).write_text("this is a text file, not an image\n" * 20)
    with pytest.raises(InputError, match=rf"{name}: not a readable NIfTI image .*; pass a valid \.nii/\.nii\.gz file"):
        read_volume(tmp_path / name)


def test_truncated_gzip(tmp_path):
    path = _save_nifti(tmp_path, _volume_data((40, 40, 40)), np.eye(4))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError, match=r"img\.nii\.gz: the image data is truncated or corrupt .*re-download"):
        read_volume(path)


def test_corrupt_gzip_data(tmp_path):
    path = _save_nifti(tmp_path, _volume_data((20, 20, 20)), np.eye(4))
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2 : len(blob) // 2 + 8] = b"\xff" * 8  # damage the deflate stream
    path.write_bytes(bytes(blob))
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_volume(path)


def test_truncated_uncompressed_nifti(tmp_path):
    path = _save_nifti(tmp_path, _volume_data((20, 20, 20)), np.eye(4), name="img.nii")
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(InputError, match=r"img\.nii: "):
        read_volume(path)


def test_unknown_extension_lists_the_supported_ones(tmp_path):
    (tmp_path / "scan.png").write_bytes(b"\x89PNG....")
    with pytest.raises(
        InputError, match=r"scan\.png: unsupported file type; pass one of \.nii, \.nii\.gz, \.nrrd, \.mha"
    ):
        read_volume(tmp_path / "scan.png")


def test_empty_folder_is_an_input_error(tmp_path):
    pytest.importorskip("pydicom")
    with pytest.raises(InputError, match="no files; pass a folder or .zip holding one DICOM series"):
        read_volume(tmp_path)


def test_text_file_named_nrrd(tmp_path):
    (tmp_path / "x.nrrd").write_text("not a nrrd\n")
    with pytest.raises(InputError, match=r"x\.nrrd: not a readable \.nrrd image"):
        read_volume(tmp_path / "x.nrrd")


# --- NRRD / MHA geometry against nibabel on the same data written by SimpleITK ----------------------


@pytest.mark.parametrize("ext", [".nrrd", ".mha"])
@pytest.mark.parametrize("kind", AFFINES)
def test_sitk_geometry_matches_nibabel_on_itk_nifti(tmp_path, ext, kind):
    data = _volume_data((9, 7, 4), dtype=np.float32)
    image = _sitk_image(data, _affine(kind))
    sitk.WriteImage(image, str(tmp_path / f"a{ext}"))
    sitk.WriteImage(image, str(tmp_path / "a.nii.gz"))
    ours, ref = read_volume(tmp_path / f"a{ext}"), nib.load(tmp_path / "a.nii.gz")
    np.testing.assert_array_equal(ours.array, np.asanyarray(ref.dataobj))
    np.testing.assert_allclose(ours.affine, ref.affine, atol=1e-5)
    for field in ("qform_code", "sform_code", "xyzt_units", "datatype", "bitpix", "dim"):
        np.testing.assert_array_equal(ours.header[field], ref.header[field], err_msg=field)
    np.testing.assert_allclose(ours.header.get_best_affine(), ref.header.get_best_affine(), atol=1e-5)


def test_ras_affine_from_lps_known_answer():
    # LPS identity direction: +i goes to the patient's left, i.e. -x in RAS.
    affine = ras_affine_from_lps(np.eye(3).ravel(), (0.5, 0.6, 3.0), (1.0, 2.0, 3.0))
    np.testing.assert_array_equal(affine, [[-0.5, 0, 0, -1], [0, -0.6, 0, -2], [0, 0, 3, 3], [0, 0, 0, 1]])


def test_4d_mha_keeps_the_first_volume(tmp_path):
    data = np.random.default_rng(5).integers(0, 9, (2, 4, 5, 6)).astype(np.int16)  # (T, Z, Y, X)
    sitk.WriteImage(sitk.JoinSeries([sitk.GetImageFromArray(vol) for vol in data]), str(tmp_path / "t.mha"))
    with pytest.warns(UserWarning, match="using the first 3-D volume"):
        vol = read_volume(tmp_path / "t.mha")
    np.testing.assert_array_equal(vol.array, data[0].transpose(2, 1, 0))


def test_vector_nrrd_keeps_the_first_component(tmp_path):
    data = np.random.default_rng(6).integers(0, 9, (4, 5, 6, 3)).astype(np.uint8)  # (Z, Y, X, C)
    sitk.WriteImage(sitk.GetImageFromArray(data, isVector=True), str(tmp_path / "rgb.nrrd"))
    with pytest.warns(UserWarning, match="3 components per voxel"):
        vol = read_volume(tmp_path / "rgb.nrrd")
    np.testing.assert_array_equal(vol.array, data[..., 0].transpose(2, 1, 0))


def test_2d_nrrd_is_an_input_error(tmp_path):
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((5, 6), np.int16)), str(tmp_path / "flat.nrrd"))
    with pytest.raises(InputError, match=r"flat\.nrrd: expected a 3-D image, got shape \(6, 5\); pass one volume"):
        read_volume(tmp_path / "flat.nrrd")


def test_nan_in_mha_is_replaced(tmp_path):
    data = np.ones((3, 4, 5), np.float32)
    data[0, 0, 0] = np.nan
    sitk.WriteImage(sitk.GetImageFromArray(data), str(tmp_path / "n.mha"))
    with pytest.warns(UserWarning, match="NaN"):
        vol = read_volume(tmp_path / "n.mha")
    assert np.isfinite(vol.array).all()


# --- the real CT -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ct_path() -> Path:
    return CT_SMALL


def test_real_ct_matches_what_the_official_tool_feeds_the_model(ct_path):
    vol = read_volume(ct_path)
    ref = nib.load(ct_path)
    assert vol.shape == (122, 101, 30) and vol.array.dtype == np.int16
    np.testing.assert_array_equal(vol.array, ref.get_fdata())  # the official tool uses get_fdata()
    np.testing.assert_array_equal(vol.affine, ref.affine)
    assert vol.header.binaryblock == ref.header.binaryblock
    assert vol.spacing_mm == pytest.approx((3.0, 3.0, 3.0))


def test_real_ct_truncated(ct_path, tmp_path):
    blob = ct_path.read_bytes()
    (tmp_path / "ct.nii.gz").write_bytes(blob[: len(blob) * 2 // 3])
    with pytest.raises(InputError, match=r"ct\.nii\.gz: the image data is truncated or corrupt"):
        read_volume(tmp_path / "ct.nii.gz")


def test_real_ct_via_gzip_module_equals(ct_path, tmp_path):
    (tmp_path / "ct.nii").write_bytes(gzip.decompress(ct_path.read_bytes()))
    np.testing.assert_array_equal(read_volume(tmp_path / "ct.nii").array, read_volume(ct_path).array)


def test_docstring_examples():
    assert doctest.testmod(readers, raise_on_error=False).failed == 0


@pytest.mark.parametrize("kept", [100, 347])
def test_gzip_cut_inside_the_header(tmp_path, kept):
    path = _save_nifti(tmp_path, _volume_data((6, 6, 6)), np.eye(4))
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:kept]))
    with pytest.raises(InputError, match=r"img\.nii\.gz: .*pass a valid \.nii/\.nii\.gz file"):
        read_volume(path)
