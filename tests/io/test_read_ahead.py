"""Reading an image in a forked child: the same volume, errors and warnings as reading it here."""

import os

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

import totalseg.io.readers as readers
from totalseg.errors import InputError
from totalseg.io.read_ahead import ReadAhead
from totalseg.io.readers import read_volume

pytestmark = pytest.mark.skipif(not ReadAhead.applies_to(__file__), reason="needs Linux (fork, memfd)")


def assert_same_volume(ahead, direct):
    assert ahead.array.dtype == direct.array.dtype and ahead.array.shape == direct.array.shape
    assert np.array_equal(ahead.array, direct.array)
    assert ahead.array.flags.f_contiguous == direct.array.flags.f_contiguous
    assert np.array_equal(ahead.affine, direct.affine)
    assert (ahead.header is None) == (direct.header is None)
    if direct.header is not None:
        assert ahead.header.binaryblock == direct.header.binaryblock


def test_nifti_and_nrrd_come_back_as_read_volume_reads_them(ct_small_path, tmp_path):
    nrrd = tmp_path / "ct.nrrd"
    sitk.WriteImage(sitk.ReadImage(str(ct_small_path)), str(nrrd))
    for path in (ct_small_path, nrrd):
        pending = ReadAhead(path)
        assert_same_volume(pending.volume(), read_volume(path))
        assert read_volume(pending) is pending.volume()  # read_volume takes it, and waits once


def test_a_truncated_file_raises_the_same_input_error(ct_small_path, tmp_path):
    truncated = tmp_path / "trunc.nii.gz"
    truncated.write_bytes(ct_small_path.read_bytes()[:20000])
    with pytest.raises(InputError) as direct:
        read_volume(truncated)
    with pytest.raises(InputError) as ahead:
        read_volume(ReadAhead(truncated))
    assert str(ahead.value) == str(direct.value)


def test_the_readers_warnings_reach_this_process(ct_small_path, tmp_path):
    ref = nib.load(ct_small_path)
    path = tmp_path / "4d.nii.gz"
    nib.save(nib.Nifti1Image(np.stack([np.asanyarray(ref.dataobj)] * 2, axis=-1), ref.affine), path)
    pending = ReadAhead(path)
    with pytest.warns(UserWarning, match="using the first 3-D volume only"):
        vol = pending.volume()
    assert vol.shape == ref.shape


def test_an_unexpected_failure_in_the_child_reads_here(ct_small_path, monkeypatch):
    parent, original = os.getpid(), readers.read_volume

    def fails_in_child(source):
        if os.getpid() != parent:
            raise RuntimeError("not an input error")
        return original(source)

    monkeypatch.setattr(readers, "read_volume", fails_in_child)
    assert_same_volume(ReadAhead(ct_small_path).volume(), original(ct_small_path))


def test_only_image_files_are_read_ahead(ct_small_path, tmp_path):
    (tmp_path / "study.zip").write_bytes(b"PK")
    (tmp_path / "slice.dcm").write_bytes(b"")
    assert ReadAhead.applies_to(ct_small_path)
    assert not any(ReadAhead.applies_to(p) for p in (tmp_path, tmp_path / "study.zip", tmp_path / "slice.dcm",
                                                      tmp_path / "missing.nii.gz"))
