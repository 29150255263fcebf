"""`totalseg crop-to-body` against the official crop_to_body's own outputs (tests/data/companion_golden,
made by benchmarks/companion_parity.py with a tiny seeded body model), known answers and errors."""

import gzip
import hashlib
import json
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.cli import main
from totalseg.imaging.body_crop import body_mask, crop_to_mask, margin_voxels
from totalseg.imaging.volume import Volume

DATA = Path(__file__).resolve().parents[1] / "data"
GOLDEN = DATA / "companion_golden"
INPUTS = {"ct_small_3mm": DATA / "ct_small_3mm.nii.gz",
          "inconsistent-header": DATA / "official_golden" / "inputs" / "inconsistent-header.nii.gz",
          "permuted-oblique-aniso": DATA / "official_golden" / "inputs" / "permuted-oblique-aniso.nii.gz"}
CASES = json.loads((GOLDEN / "crop_to_body.json").read_text())


@pytest.fixture()
def body_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(GOLDEN / "weights"))
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tmp_path / "home"))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_same_file_as_the_official_command(case, body_weights, tmp_path):
    out = tmp_path / "cropped.nii.gz"
    flags = ["-t"] if case["only_trunc"] else []
    assert main(["crop-to-body", "-i", str(INPUTS[case["input"]]), "-o", str(out), "-d", "cpu", "-q", *flags]) == 0
    data = gzip.decompress(out.read_bytes())
    header = bytes.fromhex(case["header_hex"])
    assert data[:len(header)] == header  # int32, fresh header from the moved affine
    assert hashlib.sha256(data[len(header):]).hexdigest() == case["voxels_sha256"]


def test_golden_crops_cut():
    full = {name: nib.load(path).shape for name, path in INPUTS.items()}
    cut = {c["input"] for c in CASES if tuple(c["shape"]) != full[c["input"]]}
    assert cut == set(INPUTS)  # every input is cut, by the body or by the trunk


def test_margin_is_3_mm_in_header_voxels_rounded_down():
    assert margin_voxels((3.0, 3.0, 3.0)) == (1, 1, 1)
    assert margin_voxels((1.0, 1.2, 2.0)) == (3, 2, 1)
    assert margin_voxels((0.8, 3.4, 2.5)) == (3, 0, 1)


def test_crop_known_answer():
    array = np.arange(10 * 8 * 6, dtype=np.float64).reshape(10, 8, 6) - 100.7  # int32 truncates toward zero
    affine = np.array([[0, -2.0, 0, 5], [1.5, 0, 0, -3], [0, 0, 1.0, 7], [0, 0, 0, 1]])
    vol = Volume(array, affine=affine)
    mask = np.zeros(vol.shape, bool)
    mask[4:6, 3, 2:4] = True
    cut = crop_to_mask(vol, mask)  # header zooms from the affine: 1.5, 2, 1 mm -> margin 2, 1, 3 voxels
    assert cut.bbox == (slice(2, 8), slice(2, 5), slice(0, 6))
    assert cut.image.get_data_dtype() == np.int32
    np.testing.assert_array_equal(np.asanyarray(cut.image.dataobj), array[2:8, 2:5, :].astype(np.int32))
    np.testing.assert_allclose(cut.image.affine[:3, 3], affine[:3, :3] @ [2, 2, 0] + affine[:3, 3])


def test_empty_mask_keeps_the_whole_image():
    vol = Volume(np.ones((4, 3, 2), np.int16), affine=np.eye(4))
    with pytest.warns(UserWarning, match="no body found"):
        cut = crop_to_mask(vol, np.zeros(vol.shape, bool))
    assert cut.image.shape == (4, 3, 2) and cut.bbox == (slice(0, 4), slice(0, 3), slice(0, 2))


def test_trunk_only_keeps_label_1():
    labels = np.array([0, 1, 2, 1])
    assert body_mask(labels, only_trunk=True).tolist() == [False, True, False, True]
    assert body_mask(labels).tolist() == [False, True, True, True]


def test_errors_are_one_line(body_weights, tmp_path, capsys):
    ct = str(INPUTS["ct_small_3mm"])
    for args, message in [
        (["-i", ct, "-o", str(tmp_path / "out.nrrd")], "unsupported output suffix"),
        (["-i", str(tmp_path / "missing.nii.gz"), "-o", str(tmp_path / "o.nii.gz")], "file not found"),
    ]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert main(["crop-to-body", *args, "-d", "cpu", "-q"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "o.nii.gz").exists()
