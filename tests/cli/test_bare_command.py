"""`totalseg -i IN -o OUT [flags]` (no subcommand) runs `segment`, as the official command line."""

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
CT = DATA / "ct_small_3mm.nii.gz"


@pytest.fixture()
def body_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(DATA / "companion_golden" / "weights"))
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tmp_path / "home"))


def test_bare_form_equals_segment(body_weights, tmp_path):
    flags = ["-ta", "body", "--fast", "--ml", "-q", "-d", "cpu"]
    assert main(["-i", str(CT), "-o", str(tmp_path / "bare.nii.gz"), *flags]) == 0
    assert main(["segment", "-i", str(CT), "-o", str(tmp_path / "sub.nii.gz"), *flags]) == 0
    bare, sub = (np.asanyarray(nib.load(tmp_path / f"{n}.nii.gz").dataobj) for n in ("bare", "sub"))
    assert bare.dtype == np.uint8 and bare.any()
    np.testing.assert_array_equal(bare, sub)


def test_bare_form_errors_are_segments(tmp_path, capsys):
    assert main(["-i", str(tmp_path / "missing.nii.gz"), "-o", str(tmp_path / "out"), "-d", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "file not found" in err and "invalid choice" not in err


def test_help_lists_the_subcommands_and_the_bare_form(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("segment", "combine", "crop-to-body", "Without a COMMAND"):
        assert name in out


def test_version_and_unknown_command_are_not_dispatched(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("totalseg ")
    with pytest.raises(SystemExit) as exc:
        main(["nonsense"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
