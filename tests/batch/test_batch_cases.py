"""Case discovery: names from paths and CSV lists, collisions, bad lists; the results row."""

from pathlib import Path

import pytest

from totalseg.batch.cases import Case, case_stem, cases_from_csv, cases_from_paths
from totalseg.batch.results import result_row, statistics_columns
from totalseg.batch.runner import CaseResult
from totalseg.errors import InputError


def test_names_from_files_and_parent_folders(tmp_path):
    for sub in ("s0001", "s0002"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "ct.nii.gz").write_bytes(b"x")
    cases = cases_from_paths([tmp_path / "s0001" / "ct.nii.gz", tmp_path / "s0002" / "ct.nii.gz",
                              tmp_path / "series 9.zip"])
    assert [c.name for c in cases] == ["s0001", "s0002", "series_9"]
    assert cases[0].input == tmp_path / "s0001" / "ct.nii.gz"


def test_folder_of_volumes_expands_but_dicom_folder_is_one_case(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    for name in ("b.nrrd", "a.nii.gz", ".hidden.nii.gz", "notes.txt"):
        (scans / name).write_bytes(b"x")
    dicom = tmp_path / "study1"
    dicom.mkdir()
    (dicom / "IM0001.dcm").write_bytes(b"x")
    cases = cases_from_paths([scans, dicom])
    assert cases == [Case("a", scans / "a.nii.gz"), Case("b", scans / "b.nrrd"), Case("study1", dicom)]


def test_unresolvable_collision_asks_for_a_case_list(tmp_path):
    with pytest.raises(InputError, match="'case' column"):
        cases_from_paths([tmp_path / "a" / "ct.nii.gz", tmp_path / "a" / "ct.nrrd"])


def test_csv_list_with_and_without_case_column(tmp_path):
    (tmp_path / "named.csv").write_text("case,input,age\np1,scans/one.nii.gz,50\np2,/abs/two.nrrd,61\n")
    named = cases_from_csv(tmp_path / "named.csv")
    assert named == [Case("p1", tmp_path / "scans" / "one.nii.gz"), Case("p2", Path("/abs/two.nrrd"))]
    (tmp_path / "plain.csv").write_text("input\nx/ct.nii.gz\ny/ct.nii.gz\n")
    assert [c.name for c in cases_from_csv(tmp_path / "plain.csv")] == ["x", "y"]


@pytest.mark.parametrize("text, match", [
    ("path\nct.nii.gz\n", "'input' column"),
    ("case,input\n../up,ct.nii.gz\n", "line 2: case name '../up'"),
    ("case,input\np1,a.nii.gz\np1,b.nii.gz\n", "repeated: p1"),
    ("case,input\np1,\n", "line 2: empty 'input'"),
])
def test_bad_case_lists(tmp_path, text, match):
    (tmp_path / "list.csv").write_text(text)
    with pytest.raises(InputError, match=match):
        cases_from_csv(tmp_path / "list.csv")


def test_missing_case_list(tmp_path):
    with pytest.raises(InputError, match="cannot read the case list"):
        cases_from_csv(tmp_path / "nope.csv")


def test_case_stem_strips_only_image_suffixes():
    assert case_stem(Path("a.b/ct.scan.nii.gz")) == "ct.scan"
    assert case_stem(Path("x/.nii.gz")) == "nii.gz"


def test_statistics_become_flat_numeric_columns():
    stats = {"liver": {"volume": 1500.0, "intensity": 60.5, "centroid_mm": [1, 2, 3], "n_voxels": 12},
             "spleen": {"volume": 0.0, "intensity": 0.0}}
    assert statistics_columns(stats) == {"liver_volume_mm3": 1500.0, "liver_intensity": 60.5,
                                         "liver_n_voxels": 12.0, "spleen_volume_mm3": 0.0, "spleen_intensity": 0.0}
    row = result_row(CaseResult("p1", "p1.nii.gz", "error", error="bad", timings_s={"read": 0.5, "total": 0.6}))
    assert row["status"] == "error" and row["read_s"] == 0.5 and row["predict_s"] is None
