"""Writers: outputs decode to exactly the labels, with the bytes nib.save would write, atomically."""

from __future__ import annotations

import doctest
import gzip
import io
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.errors import OutputError
from totalseg.imaging.volume import LabelVolume
from totalseg.io import load_label_map, writers
from totalseg.io.writers import crc32_zeros, nifti_header_bytes, write_class_masks, write_multilabel

CT_SMALL = Path(__file__).resolve().parents[1] / "data" / "ct_small_3mm.nii.gz"

OBLIQUE = np.array([[0.0, -0.9, 0.3, 20.0], [1.2, 0.1, 0.0, -15.0], [0.05, 0.2, 2.5, 40.0], [0, 0, 0, 1]])
LPS = np.diag([-0.8, -0.8, 3.0, 1.0])


def _labels(shape=(23, 17, 11), seed=0) -> np.ndarray:
    """Labels that hit the edge cases: corners, a full slice, all of z, an empty class, blobs."""
    rng = np.random.default_rng(seed)
    nx, ny, nz = shape
    labels = np.zeros(shape, np.uint8)
    labels[3:9, 2:7, 1:5] = 1  # a box
    labels[rng.random(shape) < 0.03] = 2  # scattered voxels: the box is the whole volume
    labels[0, 0, 0] = 3  # first voxel
    labels[nx - 1, ny - 1, nz - 1] = 4  # last voxel
    labels[:, :, 6] = 5  # a whole slice: no gap between segments
    labels[nx // 2, ny // 2, :] = 6  # one voxel in every slice
    labels[10:12, 14:17, 8:11] = 8  # class 7 stays empty
    grid = np.indices(shape).astype(float)
    labels[((grid[0] - 15) / 5) ** 2 + ((grid[1] - 8) / 4) ** 2 + ((grid[2] - 3) / 3) ** 2 < 1] = 9
    return labels


LABEL_MAP = {i: f"class_{i}" for i in range(1, 10)} | {200: "absent_high_id"}


def _header(affine: np.ndarray, kind: str) -> nib.Nifti1Header:
    """Input headers of the kinds real files have."""
    img = nib.Nifti1Image(np.zeros((2, 2, 2), np.int16), affine)
    hdr = img.header
    if kind == "itk":
        hdr.set_qform(affine, code=1)
        hdr.set_sform(affine, code=1)
        hdr.set_xyzt_units("mm", "sec")
    elif kind == "scaled":
        hdr.set_slope_inter(2.0, -1024.0)
        hdr["cal_min"], hdr["cal_max"] = -1024, 3071
        hdr["descrip"] = b"CT with scaling"
    elif kind == "qform_only":
        hdr.set_sform(affine, code=0)
        hdr.set_qform(affine, code=1)
    elif kind == "extension":
        hdr.extensions.append(nib.nifti1.Nifti1Extension(6, b"some comment"))
    elif kind == "big_endian":
        hdr = hdr.as_byteswapped(">")
    elif kind == "nifti2":
        hdr = nib.Nifti2Image(np.zeros((2, 2, 2), np.int16), affine).header
    return hdr


def _official_bytes(labels: np.ndarray, affine, header, extensions=()) -> bytes:
    """What the official tool writes (uncompressed): a header copy set to uint8, then nib.save."""
    new_header = header.copy() if header is not None else None
    if new_header is not None:
        new_header.set_data_dtype(np.uint8)
    img = nib.Nifti1Image(labels.astype(np.uint8), affine, new_header)
    img.header.extensions.extend(extensions)
    buffer = io.BytesIO()
    img.to_file_map(img.make_file_map({"image": buffer, "header": buffer}))
    return buffer.getvalue()


def _single_member(blob: bytes) -> bytes:
    """Decode with zlib as one gzip member and check nothing follows it."""
    decoder = zlib.decompressobj(31)
    raw = decoder.decompress(blob)
    assert decoder.eof and decoder.unused_data == b""
    return raw


def _check_masks(paths, labels, affine, header, label_map):
    assert [p.name for p in paths] == [f"{name}.nii.gz" for name in label_map.values()]
    for (class_id, _), path in zip(label_map.items(), paths):
        expected = labels == class_id
        img = nib.load(path)
        decoded = np.asanyarray(img.dataobj)
        assert decoded.dtype == np.uint8
        np.testing.assert_array_equal(decoded, expected, err_msg=path.name)
        blob = path.read_bytes()
        raw = gzip.decompress(blob)
        assert raw == _single_member(blob)
        assert raw == _official_bytes(expected, affine, header), path.name


# --- per-class masks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("affine", "kind"),
    [(OBLIQUE, "plain"), (LPS, "itk"), (OBLIQUE, "scaled"), (LPS, "qform_only"), (OBLIQUE, "extension"),
     (LPS, "big_endian"), (OBLIQUE, "nifti2"), (LPS, "none")],
)  # fmt: skip
def test_class_masks_decode_to_the_labels_with_the_official_header(tmp_path, affine, kind):
    labels = _labels()
    header = None if kind == "none" else _header(affine, kind)
    paths = write_class_masks(LabelVolume(labels, affine=affine, header=header), tmp_path, LABEL_MAP, threads=2)
    _check_masks(paths, labels, affine, header, LABEL_MAP)


def test_header_fields_of_a_mask_follow_the_input(tmp_path):
    header = _header(OBLIQUE, "scaled")
    (path,) = write_class_masks(LabelVolume(_labels(), affine=OBLIQUE, header=header), tmp_path, {9: "blob"})
    with gzip.open(path) as stream:
        out = nib.Nifti1Header.from_fileobj(stream)  # as stored: nib.load moves the scaling to the data
    assert out.get_data_dtype() == np.uint8 and out["bitpix"] == 8
    assert (float(out["scl_slope"]), float(out["scl_inter"])) == (1.0, 0.0)
    assert (int(out["qform_code"]), int(out["sform_code"])) == (int(header["qform_code"]), int(header["sform_code"]))
    assert (float(out["cal_min"]), float(out["cal_max"]), out["descrip"]) == (-1024, 3071, b"CT with scaling")
    np.testing.assert_allclose(nib.load(path).affine, OBLIQUE, atol=1e-5)


def test_affine_different_from_the_header_goes_to_the_sform(tmp_path):
    labels, header = _labels(), _header(LPS, "itk")
    moved = LPS.copy()
    moved[:3, 3] += 5.0
    (path,) = write_class_masks(LabelVolume(labels, affine=moved, header=header), tmp_path, {1: "box"})
    out = nib.load(path)
    np.testing.assert_allclose(out.affine, moved)
    assert (int(out.header["sform_code"]), int(out.header["qform_code"])) == (2, 0)
    assert gzip.decompress(path.read_bytes()) == _official_bytes(labels == 1, moved, header)


def test_c_ordered_and_wider_integer_labels_give_the_same_files(tmp_path):
    labels = _labels((31, 12, 9), seed=3)
    header = _header(OBLIQUE, "plain")
    reference = write_class_masks(LabelVolume(labels, affine=OBLIQUE, header=header), tmp_path / "a", LABEL_MAP)
    for variant, folder in [(np.ascontiguousarray(labels), "c"), (labels.astype(np.int32), "i32"),
                            (labels[::-1][::-1], "view")]:  # fmt: skip
        paths = write_class_masks(LabelVolume(variant, affine=OBLIQUE, header=header), tmp_path / folder, LABEL_MAP)
        assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in reference]


def test_thread_count_does_not_change_the_bytes(tmp_path):
    vol = LabelVolume(_labels(), affine=LPS, header=_header(LPS, "plain"))
    one = write_class_masks(vol, tmp_path / "one", LABEL_MAP, threads=1)
    many = write_class_masks(vol, tmp_path / "many", LABEL_MAP, threads=4)
    assert [p.read_bytes() for p in one] == [p.read_bytes() for p in many]


def test_long_zero_runs_use_the_repeated_largest_piece(tmp_path, monkeypatch):
    monkeypatch.setattr(writers, "_MAX_ZERO_POWER", 6)  # 64-byte pieces: runs repeat them many times
    monkeypatch.setattr(writers, "_CHUNK_BYTES", 300)  # several compare chunks per class
    labels = _labels((40, 30, 20), seed=4)
    header = _header(OBLIQUE, "plain")
    paths = write_class_masks(LabelVolume(labels, affine=OBLIQUE, header=header), tmp_path, LABEL_MAP)
    _check_masks(paths, labels, OBLIQUE, header, LABEL_MAP)


def test_real_ct_masks(tmp_path):
    ct = nib.load(CT_SMALL)
    hu = np.asanyarray(ct.dataobj)
    labels = np.select([hu > 300, hu > 0, hu > -500], [3, 2, 1], 0).astype(np.uint8)
    label_map = {1: "soft", 2: "dense", 3: "bone", 4: "none"}
    paths = write_class_masks(LabelVolume(labels, affine=ct.affine, header=ct.header), tmp_path, label_map)
    _check_masks(paths, labels, ct.affine, ct.header, label_map)


# --- multilabel ------------------------------------------------------------------------------------


def _official_label_extension(label_map) -> nib.nifti1.Nifti1Extension:
    from totalseg.io.nifti_ext import label_map_extension

    return label_map_extension(label_map)  # byte-equal to the official one: see test_nifti_ext.py


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_multilabel_round_trip_and_official_bytes(tmp_path, suffix, monkeypatch):
    monkeypatch.setattr(writers, "_CHUNK_BYTES", 1000)  # many compressed chunks
    labels, header = _labels(), _header(OBLIQUE, "itk")
    path = write_multilabel(LabelVolume(labels, affine=OBLIQUE, header=header), tmp_path / f"seg{suffix}", LABEL_MAP)
    img = nib.load(path)
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), labels)
    assert load_label_map(path) == LABEL_MAP
    raw = _single_member(path.read_bytes()) if suffix == ".nii.gz" else path.read_bytes()
    assert raw == _official_bytes(labels, OBLIQUE, header, [_official_label_extension(LABEL_MAP)])


def test_multilabel_replaces_a_label_table_already_in_the_header(tmp_path):
    header = _header(LPS, "plain")
    header.extensions.append(_official_label_extension({1: "old"}))
    path = write_multilabel(LabelVolume(_labels(), affine=LPS, header=header), tmp_path / "s.nii.gz", {1: "new"})
    assert load_label_map(path) == {1: "new"}
    assert len(nib.load(path).header.extensions) == 1


def test_multilabel_rejects_other_suffixes(tmp_path):
    with pytest.raises(OutputError, match=r"seg\.nrrd: unsupported output suffix; name the multilabel file"):
        write_multilabel(LabelVolume(_labels(), affine=LPS), tmp_path / "seg.nrrd", LABEL_MAP)


# --- bad arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "match"),
    [(np.full((3, 3, 3), 300, np.int16), r"labels must be integers in 0\.\.255, got values 300\.\.300"),
     (np.full((3, 3, 3), 1.5), "labels must be integers in 0..255"),
     (np.zeros((3, 3, 3), np.complex64), "got dtype complex64")],
)  # fmt: skip
def test_bad_labels(tmp_path, labels, match):
    with pytest.raises(OutputError, match=match):
        write_class_masks(LabelVolume(labels, affine=np.eye(4)), tmp_path, {1: "a"})


@pytest.mark.parametrize(
    ("label_map", "match"),
    [({1: "../escape"}, "not a usable file name"), ({1: "a", 2: "a"}, "repeats a class name"),
     ({0: "background"}, r"label id 0 \('background'\) is outside 1\.\.255"), ({}, "label_map is empty")],
)  # fmt: skip
def test_bad_label_maps(tmp_path, label_map, match):
    with pytest.raises(OutputError, match=match):
        write_class_masks(LabelVolume(_labels(), affine=np.eye(4)), tmp_path, label_map)


def test_output_folder_that_is_a_file(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(OutputError, match=r"out: exists and is not a folder"):
        write_class_masks(LabelVolume(_labels(), affine=np.eye(4)), tmp_path / "out", {1: "a"})


def test_bad_thread_count(tmp_path):
    with pytest.raises(OutputError, match="threads must be >= 1, got 0"):
        write_class_masks(LabelVolume(_labels(), affine=np.eye(4)), tmp_path, {1: "a"}, threads=0)


# --- atomicity -------------------------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_failure_mid_write_leaves_neither_file_nor_temp_file(tmp_path, monkeypatch):
    def broken_chunks(array):
        yield 0, memoryview(b"\x00" * 100)
        raise RuntimeError("disk went away")

    monkeypatch.setattr(writers, "_fortran_chunks", broken_chunks)
    with pytest.raises(RuntimeError, match="disk went away"):
        write_multilabel(LabelVolume(_labels(), affine=LPS), tmp_path / "seg.nii", LABEL_MAP)
    assert list(tmp_path.iterdir()) == []


def test_failed_rename_is_an_output_error_and_cleans_up(tmp_path, monkeypatch):
    def no_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(writers.os, "replace", no_replace)
    with pytest.raises(OutputError, match=r"seg\.nii\.gz: cannot write \(Permission denied\)"):
        write_multilabel(LabelVolume(_labels(), affine=LPS), tmp_path / "seg.nii.gz", LABEL_MAP)
    assert list(tmp_path.iterdir()) == []


def test_one_failing_class_leaves_no_partial_file(tmp_path, monkeypatch):
    real_add_mask = writers._add_mask

    def flaky_add_mask(member, array, class_id, box, zeros):
        if class_id == 5:
            raise MemoryError("simulated")
        real_add_mask(member, array, class_id, box, zeros)

    monkeypatch.setattr(writers, "_add_mask", flaky_add_mask)
    with pytest.raises(MemoryError):
        write_class_masks(LabelVolume(_labels(), affine=LPS), tmp_path, LABEL_MAP, threads=3)
    assert not (tmp_path / "class_5.nii.gz").exists()
    assert _leftovers(tmp_path) == []
    for path in tmp_path.iterdir():  # whatever was written is complete
        nib.load(path).get_fdata()


def test_existing_file_is_replaced_whole(tmp_path):
    path = tmp_path / "seg.nii.gz"
    path.write_bytes(b"old content")
    write_multilabel(LabelVolume(_labels(), affine=LPS), path, LABEL_MAP)
    np.testing.assert_array_equal(np.asanyarray(nib.load(path).dataobj), _labels())
    assert _leftovers(tmp_path) == []


def test_unwritable_folder(tmp_path):
    """A folder that cannot exist (its parent is a file): unwritable for root too, so CI runs it."""
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for target in (blocker / "seg.nii.gz", blocker / "sub" / "seg.nii.gz"):
        with pytest.raises(OutputError, match="cannot write"):
            write_multilabel(LabelVolume(_labels(), affine=LPS), target, LABEL_MAP)
        with pytest.raises(OutputError, match="cannot write|exists and is not a folder"):
            write_class_masks(LabelVolume(_labels(), affine=LPS), target.parent, LABEL_MAP)
    assert [p.name for p in tmp_path.iterdir()] == ["a_file"]


# --- building blocks -------------------------------------------------------------------------------


@pytest.mark.parametrize("n_bytes", [0, 1, 2, 3, 255, 4096, 100_003, (1 << 22) + 7])
def test_crc32_of_zero_runs(n_bytes):
    start = zlib.crc32(b"some bytes before")
    assert crc32_zeros(start, n_bytes) == zlib.crc32(bytes(n_bytes), start)


def test_header_bytes_equal_nibabel_for_the_real_ct():
    ct = nib.load(CT_SMALL)
    vol = LabelVolume(np.zeros(ct.shape, np.uint8), affine=ct.affine, header=ct.header)
    header = nifti_header_bytes(vol)
    assert header == _official_bytes(vol.array, ct.affine, ct.header)[: len(header)]
    assert len(header) == 352


def test_docstring_examples():
    assert doctest.testmod(writers, raise_on_error=False).failed == 0
