import json

import nibabel as nib
import numpy as np

from totalseg.cli import main
from totalseg.io.writers import write_class_masks
from totalseg.qc.faults import swap_left_right


def _files(tmp_path, clean, fault=None):
    image, labels, classes = clean
    if fault is not None:
        image, labels = fault(image, labels, classes, np.random.default_rng(0))
    nib.save(image.to_nifti(), tmp_path / "ct.nii.gz")
    nib.save(labels.to_nifti(np.uint8), tmp_path / "seg.nii.gz")
    write_class_masks(labels, tmp_path / "masks", classes)
    return tmp_path / "ct.nii.gz"


def test_qc_command_on_a_multilabel_file_and_a_mask_folder(tmp_path, clean):
    ct = _files(tmp_path, clean)
    for seg in ("seg.nii.gz", "masks"):
        out = tmp_path / f"qc_{seg}.json"
        assert main(["qc", "-i", str(ct), "--seg", str(tmp_path / seg), "-o", str(out), "-q"]) == 0
        data = json.loads(out.read_text())
        assert data["status"] == "ok" and len(data["checks"]) == 8


def test_fail_on_gives_exit_code_1(tmp_path, clean, capsys):
    ct = _files(tmp_path, clean, swap_left_right)
    out = tmp_path / "qc.json"
    assert main(["qc", "-i", str(ct), "--seg", str(tmp_path / "seg.nii.gz"), "-o", str(out)]) == 0
    assert "fail  laterality" in capsys.readouterr().err
    assert main(["qc", "-i", str(ct), "--seg", str(tmp_path / "seg.nii.gz"), "-o", str(out), "-q",
                 "--fail-on", "fail"]) == 1
    assert json.loads(out.read_text())["status"] == "fail"


def test_masks_off_the_grid_are_a_one_line_error(tmp_path, clean, capsys):
    ct = _files(tmp_path, clean)
    other = tmp_path / "small.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.uint8), np.eye(4)), other)
    assert main(["qc", "-i", str(ct), "--seg", str(other), "-o", str(tmp_path / "qc.json")]) == 2
    assert "grid" in capsys.readouterr().err
    assert not (tmp_path / "qc.json").exists()


def test_the_official_tools_multilabel_file_is_read_and_an_untrained_networks_masks_fail(tmp_path):
    # tests/data/measure_golden/seg_ml.nii.gz: the official --ml file (label names in its header
    # extension) of a seeded, untrained total network on the shared CT: masks without anatomy
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data"
    out = tmp_path / "qc.json"
    assert main(["qc", "-i", str(data / "ct_small_3mm.nii.gz"), "--seg", str(data / "measure_golden" / "seg_ml.nii.gz"),
                 "-o", str(out), "-q"]) == 0
    checks = {c["name"]: c["status"] for c in json.loads(out.read_text())["checks"]}
    assert checks["intensities"] == "fail" and checks["vertebra_order"] == "fail"


def test_height_and_weight_scale_the_volume_ranges(tmp_path, clean, capsys):
    ct = _files(tmp_path, clean)
    out = tmp_path / "qc.json"
    args = ["qc", "-i", str(ct), "--seg", str(tmp_path / "seg.nii.gz"), "-o", str(out), "-q"]
    assert main([*args, "--height-m", "1.8", "--weight-kg", "80"]) == 0
    volumes = next(c for c in json.loads(out.read_text())["checks"] if c["name"] == "volumes")
    assert volumes["evidence"]["body_surface_area_m2"] == 2.0
    assert main([*args, "--height-m", "1.8"]) == 2
    assert "--height-m and --weight-kg go together" in capsys.readouterr().err
