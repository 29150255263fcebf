"""`totalseg measure` on the official tool's own masks reproduces its statistics.json byte for byte
(tests/data/measure_golden, made by benchmarks/measure_golden.py), and refuses bad input in one line."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.anatomy.class_maps import class_map
from totalseg.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
GOLDEN = DATA / "measure_golden"
CT = DATA / "ct_small_3mm.nii.gz"


def mask_folder(tmp_path: Path) -> Path:
    """The official run's per-class masks, written back from the golden multilabel file."""
    img = nib.load(GOLDEN / "masks_fast.nii.gz")
    labels = np.asanyarray(img.dataobj)
    folder = tmp_path / "masks"
    folder.mkdir()
    for class_id, name in class_map("total").items():
        nib.save(nib.Nifti1Image((labels == class_id).astype(np.uint8), img.affine), folder / f"{name}.nii.gz")
    return folder


@pytest.mark.parametrize(("flags", "golden"), [(["-sii"], "statistics_fast_sii.json"),
                                               ([], "statistics_fast.json")])
def test_mask_folder_reproduces_the_official_statistics_bytes(tmp_path, flags, golden):
    out = tmp_path / "out"
    assert main(["measure", "-i", str(CT), "--seg", str(mask_folder(tmp_path)), "-o", str(out), "-q", *flags]) == 0
    assert (out / "statistics.json").read_bytes() == (GOLDEN / golden).read_bytes()


def test_official_multilabel_file_with_label_names_reproduces_the_median_statistics(tmp_path):
    path = tmp_path / "elsewhere" / "stats.json"
    args = ["measure", "-i", str(CT), "--seg", str(GOLDEN / "seg_ml.nii.gz"), "-o", str(tmp_path / "out"),
            "-sii", "-sa", "median", "--statistics", str(path), "-q"]
    assert main(args) == 0
    assert path.read_bytes() == (GOLDEN / "statistics_ml_sii_median.json").read_bytes()


def test_extra_statistics_keep_the_official_values(tmp_path):
    assert main(["measure", "-i", str(CT), "--seg", str(GOLDEN / "masks_fast.nii.gz"), "-o", str(tmp_path),
                 "-sii", "-sx", "-q"]) == 0
    ours = json.loads((tmp_path / "statistics.json").read_text())
    official = json.loads((GOLDEN / "statistics_fast_sii.json").read_text())
    assert {k: {"volume": v["volume"], "intensity": v["intensity"]} for k, v in ours.items()} == official
    assert sum(v["n_voxels"] for v in ours.values()) == np.count_nonzero(nib.load(GOLDEN / "masks_fast.nii.gz")
                                                                       .get_fdata())


def test_clinical_and_preview_only(tmp_path):
    assert main(["measure", "-i", str(CT), "--seg", str(GOLDEN / "seg_ml.nii.gz"), "-o", str(tmp_path),
                 "--clinical", "-p", "-q"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clinical.json", "preview_total.png"]
    clinical = json.loads((tmp_path / "clinical.json").read_text())
    assert clinical["measurements"]["l1_trabecular_attenuation"]["status"] == "not measurable"


def test_a_segmentation_off_the_image_grid_is_refused_in_one_line(tmp_path, capsys):
    img = nib.load(GOLDEN / "masks_fast.nii.gz")
    moved = tmp_path / "seg.nii.gz"
    nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj)[:, :, :20], img.affine), moved)
    assert main(["measure", "-i", str(CT), "--seg", str(moved), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "(122, 101, 20)" in err and "(122, 101, 30)" in err and "affine" in err
    assert not (tmp_path / "out").exists()


def test_unknown_mask_names_are_refused(tmp_path, capsys):
    folder = tmp_path / "masks"
    folder.mkdir()
    nib.save(nib.Nifti1Image(np.zeros((122, 101, 30), np.uint8), nib.load(CT).affine), folder / "tumour.nii.gz")
    assert main(["measure", "-i", str(CT), "--seg", str(folder), "-o", str(tmp_path / "out")]) == 2
    assert "tumour" in capsys.readouterr().err
