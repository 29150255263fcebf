"""`totalseg segment --reports` and `totalseg measure --reports`: the clinical reports after a segmentation,
into <output folder>/reports/<name>/, reusing the masks written; bad combinations refused up front."""

from __future__ import annotations

import json

import pytest

from totalseg.cli import main
from totalseg.reports.l3_phantom import write_l3_phantom


@pytest.fixture()
def env(tiny_weights, monkeypatch):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tiny_weights))
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tiny_weights.parent))
    return tiny_weights


def test_segment_then_reports_reuse_the_masks_just_written(env, tmp_path, capsys):
    case = write_l3_phantom(tmp_path / "case")
    out = tmp_path / "seg"
    code = main(["segment", "-i", str(case.ct), "-o", str(out), "--fastest", "-d", "cpu", "--no-download",
                 "--reports", "body_composition", "spine"])
    assert code == 0
    err = capsys.readouterr().err
    report = json.loads((out / "reports" / "body_composition" / "body_composition.json").read_text())
    assert report["report"] == "body_composition" and (out / "reports" / "body_composition" /
                                                       "body_composition.html").is_file()
    assert f"Report body_composition: wrote {out / 'reports' / 'body_composition'}" in err
    # vertebrae_L3 came from the total masks just written; only the other open tasks were segmented
    cache = out / "reports" / "body_composition" / "segmentations"
    assert sorted(p.name for p in cache.iterdir()) == ["abdominal_muscles.nii.gz", "body.nii.gz",
                                                      "trunk_cavities.nii.gz"]
    assert "Report spine: not made: " in err and "outside the official spine report's limits" in err
    assert (out / "vertebrae_L3.nii.gz").is_file()  # the segmentation itself as without --reports


def test_multilabel_output_puts_the_reports_beside_the_file(env, tmp_path):
    case = write_l3_phantom(tmp_path / "case")
    ml = tmp_path / "out" / "total.nii.gz"
    assert main(["segment", "-i", str(case.ct), "-o", str(ml), "--ml", "--fastest", "-d", "cpu", "-q",
                 "--no-download", "--reports", "body_composition"]) == 0
    cache = tmp_path / "out" / "reports" / "body_composition" / "segmentations"
    assert (cache / "total.nii.gz").read_bytes() == ml.read_bytes()  # the file reused, not segmented again


@pytest.mark.parametrize(("extra", "message"), [
    (["-ta", "total_mr"], "--reports measure CTs, but task total_mr segments MR images"),
    (["--fast", "--save_lowres"], "--save_lowres writes them on the model's"),
], ids=["mr task", "save_lowres"])
def test_bad_combinations_are_refused_before_any_work(env, tmp_path, capsys, extra, message):
    case = write_l3_phantom(tmp_path / "case")
    code = main(["segment", "-i", str(case.ct), "-o", str(tmp_path / "seg"), "--reports", "spine", *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "seg").exists()


def test_unknown_report_is_an_argparse_error(tmp_path):
    with pytest.raises(SystemExit):
        main(["segment", "-i", "ct.nii.gz", "-o", str(tmp_path), "--reports", "liver"])


def test_measure_reports_alone_from_an_existing_segmentation(tmp_path, capsys):
    case = write_l3_phantom(tmp_path / "case")
    out = tmp_path / "out"
    assert main(["measure", "-i", str(case.ct), "--seg", str(case.seg_dir), "-o", str(out), "--reports",
                 "body_composition", "aorta", "--no-download"]) == 0
    report = json.loads((out / "reports" / "body_composition" / "body_composition.json").read_text())
    assert {k: report["measurements"][k]["value"] for k in case.expected_cm2} == case.expected_cm2
    assert not (out / "statistics.json").exists()  # asked for reports only
    err = capsys.readouterr().err
    assert "Report aorta: not made: " in err and "side below 20 voxels" in err
