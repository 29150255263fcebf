"""`totalseg combine` against the official totalseg_combine_masks' own outputs
(tests/data/companion_golden, made by benchmarks/companion_parity.py), known answers and errors."""

import gzip
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.anatomy.class_maps import part_map
from totalseg.anatomy.groups import GROUP_NAMES, MASK_GROUPS, group_classes
from totalseg.cli import main
from totalseg.io.combine import combine_masks
from totalseg.io.nifti_ext import load_label_map

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "companion_golden" / "combine"
INPUTS = GOLDEN / "inputs"
CASES = json.loads((GOLDEN / "cases.json").read_text())
OFFICIAL_OK = [c for c in CASES if c["returncode"] == 0]


def nifti_bytes(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def combine(case: dict, out: Path) -> int:
    args = ["combine", "-i", str(INPUTS / case["source"]), "-m", case["group"], "-o", str(out)]
    return main(args + (["-ml"] if case["ml"] else []))


@pytest.mark.parametrize("case", OFFICIAL_OK, ids=[c["name"] for c in OFFICIAL_OK])
def test_same_file_as_the_official_command(case, tmp_path):
    out = tmp_path / "combined.nii.gz"
    assert combine(case, out) == 0
    assert nifti_bytes(out) == nifti_bytes(GOLDEN / f"{case['name']}.nii.gz")  # header, extension, voxels
    assert [p.name for p in tmp_path.iterdir()] == ["combined.nii.gz"]  # no temporary file left


def test_golden_covers_every_group_both_sources_and_ml():
    assert {(c["source"], c["group"], c["ml"]) for c in OFFICIAL_OK} == {
        (s, g, ml) for s in ("masks", "multilabel.nii.gz") for g in GROUP_NAMES if g != "heart" for ml in (0, 1)}


def test_output_is_uint8_with_the_first_masks_affine_and_ml_label():
    img = combine_masks(INPUTS / "masks", "pelvis", multilabel=True)
    first = nib.load(INPUTS / "masks" / "femur_left.nii.gz")
    assert img.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(img.affine, first.affine)
    assert load_label_map(img) == {1: "pelvis"}


def test_known_answer_from_folder_and_multilabel():
    folder = combine_masks(INPUTS / "masks", "lung_left").get_fdata()
    expected = np.zeros(folder.shape, bool)
    for name in group_classes("lung_left"):
        expected |= nib.load(INPUTS / "masks" / f"{name}.nii.gz").get_fdata() > 0.5
    np.testing.assert_array_equal(folder, expected)
    ml = nib.load(INPUTS / "multilabel.nii.gz")
    ids = [i for i, n in load_label_map(ml).items() if n in group_classes("body")]
    np.testing.assert_array_equal(combine_masks(INPUTS / "multilabel.nii.gz", "body").get_fdata(),
                                  np.isin(ml.get_fdata(), ids))


def test_heart_is_the_heart_mask(tmp_path):
    # The official command fails for -m heart (it looks for h.nii.gz, e.nii.gz, ...): see cases.json.
    assert all(c["returncode"] != 0 for c in CASES if c["group"] == "heart")
    heart = nib.load(INPUTS / "masks" / "heart.nii.gz").get_fdata() > 0.5
    np.testing.assert_array_equal(combine_masks(INPUTS / "masks", "heart").get_fdata(), heart)
    ml = nib.load(INPUTS / "multilabel.nii.gz")
    heart_id = next(i for i, n in load_label_map(ml).items() if n == "heart")
    np.testing.assert_array_equal(combine_masks(INPUTS / "multilabel.nii.gz", "heart").get_fdata(),
                                  ml.get_fdata() == heart_id)


def test_groups_match_the_official_lists():
    assert MASK_GROUPS["vertebrae"] == tuple(part_map("class_map_part_vertebrae").values())
    assert MASK_GROUPS["vertebrae_ribs"] == MASK_GROUPS["vertebrae"] + MASK_GROUPS["ribs"]
    assert MASK_GROUPS["lung"] == MASK_GROUPS["lung_left"] + MASK_GROUPS["lung_right"]
    assert len(MASK_GROUPS["ribs"]) == 24 and MASK_GROUPS["ribs"][:2] == ("rib_left_1", "rib_left_2")
    with pytest.raises(KeyError, match="unknown mask group 'liver'"):
        group_classes("liver")


@pytest.mark.parametrize(("name", "message"), [
    ("error-missing-mask", r"masks-missing: missing 1 of the 5 masks of group 'lung' \(lung_middle_lobe_right"
                           r"\.nii\.gz\); did the segmentation"),
    ("error-missing-label", r"multilabel-no-ribs\.nii\.gz: the label map has no rib_left_1, .*rib_right_12 "
                            r"\(group 'ribs'\)"),
])
def test_missing_masks_are_one_line_errors(name, message, tmp_path, capsys):
    case = next(c for c in CASES if c["name"] == name)
    assert case["returncode"] != 0  # the official command fails too (a traceback)
    assert combine(case, tmp_path / "out.nii.gz") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("totalseg: error: ")
    assert __import__("re").search(message, err)
    assert not list(tmp_path.iterdir())


def test_other_bad_inputs_are_one_line_errors(tmp_path, capsys):
    plain = tmp_path / "plain.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4)), plain)
    cases = [
        (["-i", str(tmp_path / "nowhere"), "-m", "lung"], "nowhere: not found"),
        (["-i", str(plain), "-m", "lung"], "no label map extension"),
        (["-i", str(INPUTS / "masks"), "-m", "lung", "-o", str(tmp_path / "x.nrrd")], "unsupported output suffix"),
    ]
    for args, message in cases:
        argv = ["combine", *args] if "-o" in args else ["combine", *args, "-o", str(tmp_path / "o.nii.gz")]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
    with pytest.raises(SystemExit) as exc:
        main(["combine", "-i", str(INPUTS / "masks"), "-m", "liver", "-o", str(tmp_path / "o.nii.gz")])
    assert exc.value.code == 2


def test_nora_tag_is_accepted_and_ignored(tmp_path):
    out = tmp_path / "lung.nii"
    assert main(["combine", "-i", str(INPUTS / "masks"), "-m", "lung", "-o", str(out), "-t", "123"]) == 0
    assert out.read_bytes() == nifti_bytes(GOLDEN / "masks-lung.nii.gz")
