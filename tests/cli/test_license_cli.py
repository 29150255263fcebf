"""`totalseg license set/show`, `totalseg segment -l` and licensed tasks on the command line, against a
licence server on 127.0.0.1 started by the tests."""

from __future__ import annotations

import json

import nibabel as nib
import pytest

from totalseg.cli import build_parser, main
from totalseg.models.tasks import all_models, get_task

KEY = "aca_ABCDEFGH123456"
BONES = all_models()[304]  # appendicular_bones: one licence-server model, no crop
URL = "https://backend.totalsegmentator.com/license-academic/"


@pytest.fixture
def server(license_server):
    return license_server


@pytest.fixture
def home(tmp_path, server, tiny_weights, monkeypatch):
    """An empty home dir, the local licence server and the tiny weights, through the environment."""
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tmp_path / "home"))
    monkeypatch.setenv("TOTALSEG_LICENSE_SERVER", server.url)
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tiny_weights))
    return tmp_path / "home"


@pytest.fixture
def block(ct_small, tmp_path):
    """12 x 12 x 8 voxels of the real CT: one tile for the 1.5 mm licensed models."""
    path = tmp_path / "block.nii.gz"
    nib.save(nib.Nifti1Image(ct_small.array[54:66, 44:56, 11:19], ct_small.affine), path)
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("totalseg: error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_set_validates_stores_and_show_reports(home, server, capsys):
    assert main(["license", "show"]) == 1
    assert capsys.readouterr().out == (f"no licence key stored ({home / 'config.json'} does not exist); run "
                                       f"`totalseg license set KEY` (a free key for non-commercial use: {URL})\n")
    assert main(["license", "set", KEY]) == 0
    assert capsys.readouterr().out == f"licence key stored in {home / 'config.json'}\n"
    assert [path for path, _ in server.requests] == ["/is_valid_license_number"]
    config = json.loads((home / "config.json").read_text())
    assert config["license_number"] == KEY and {"totalseg_id", "send_usage_stats", "prediction_counter"} <= set(config)
    assert main(["license", "show"]) == 0
    stored = f"licence key {KEY} stored in {home / 'config.json'}"
    assert capsys.readouterr().out == f"{stored}; the licensed tasks can run\n"
    assert main(["license", "set", KEY]) == 0
    assert "already stored" in capsys.readouterr().out and len([path for path, _ in server.requests]) == 1


def test_set_refuses_an_invalid_key_in_one_line(home, server, capsys):
    assert main(["license", "set", "aca_XXXXXXXXXXXXXX"]) == 2
    assert "the licence server refused the key 'aca_XXXXXXXXXXXXXX'" in one_line_error(capsys)
    assert main(["license", "show"]) == 1
    assert "no licence key stored in" in capsys.readouterr().out


@pytest.mark.parametrize(("key", "match"), [("abc", "must start with 'aca_'"),
                                            ("aca_short", "must have exactly 18 characters, got 9")])
def test_set_refuses_a_malformed_key_without_asking(home, server, capsys, key, match):
    assert main(["license", "set", key]) == 2
    assert match in one_line_error(capsys)
    assert [path for path, _ in server.requests] == [] and not (home / "config.json").exists()


def test_set_with_the_server_down_says_to_skip_validation(home, monkeypatch, capsys):
    monkeypatch.setenv("TOTALSEG_LICENSE_SERVER", "http://127.0.0.1:9")
    assert main(["license", "set", KEY]) == 2
    err = one_line_error(capsys)
    assert "cannot reach the licence server http://127.0.0.1:9/is_valid_license_number" in err
    assert "`totalseg license set KEY --skip-validation`" in err
    assert main(["license", "set", KEY, "--skip-validation"]) == 0
    assert json.loads((home / "config.json").read_text())["license_number"] == KEY


def test_segment_refuses_a_licensed_task_without_a_key(home, block, tmp_path, capsys):
    assert main(["segment", "-i", str(block), "-o", str(tmp_path / "seg"), "-ta", "appendicular_bones", "-q",
                 "-d", "cpu"]) == 2
    err = one_line_error(capsys)
    assert "task appendicular_bones needs a licence key: no licence key stored" in err
    assert "run `totalseg license set KEY`" in err and URL in err
    assert not (tmp_path / "seg").exists()


def test_segment_l_stores_the_key_then_runs(home, server, block, tmp_path, capsys):
    out = tmp_path / "seg.nii.gz"
    assert main(["segment", "-i", str(block), "-o", str(out), "-ta", "appendicular_bones", "-ml", "-q",
                 "-d", "cpu", "-l", "aca_XXXXXXXXXXXXXX"]) == 2
    assert "refused the key" in one_line_error(capsys) and not out.exists()
    assert main(["segment", "-i", str(block), "-o", str(out), "-ta", "appendicular_bones", "-ml", "-q",
                 "-d", "cpu", "--license_number", KEY]) == 0
    assert json.loads((home / "config.json").read_text())["license_number"] == KEY
    assert nib.load(out).shape == (12, 12, 8)
    assert build_parser().parse_args(["segment", "-lt"]).license_number is None


def test_weights_download_of_a_licensed_task_then_segment_without_network(
        home, server, block, tiny_weights, tmp_path, monkeypatch, capsys):
    server.serve(tiny_weights, BONES)  # the official model folder
    weights = tmp_path / "weights"
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(weights))
    assert main(["weights", "download", "-ta", "appendicular_bones", "-q"]) == 2
    assert "needs a licence key" in one_line_error(capsys)
    assert main(["license", "set", KEY]) == 0
    assert main(["weights", "download", "-ta", "appendicular_bones", "-q"]) == 0
    folder = weights / BONES.folder / BONES.model_subdir
    assert f"installed {folder}" in capsys.readouterr().out
    assert (folder / "fold_0" / "checkpoint_final.pth").is_file()
    assert [path for path, _ in server.requests] == ["/is_valid_license_number", "/download_weights"]
    monkeypatch.setenv("TOTALSEG_LICENSE_SERVER", "http://127.0.0.1:9")  # no server any more
    assert main(["segment", "-i", str(block), "-o", str(tmp_path / "seg"), "-ta", "appendicular_bones", "-q",
                 "-d", "cpu"]) == 0
    written = {p.name for p in (tmp_path / "seg").iterdir()}
    assert written == {f"{name}.nii.gz" for name in get_task("appendicular_bones").classes.values()}


def test_weights_download_with_a_refused_key_is_one_line(home, server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path / "weights"))
    assert main(["license", "set", "aca_REVOKED0000000", "-sv"]) == 0
    assert main(["weights", "download", "-ta", "appendicular_bones", "-q"]) == 2
    assert "the licence server refused the key 'aca_REVOKED0000000'" in one_line_error(capsys)
