"""`totalseg weights download -ta TASK` fetches every model the task runs (its rough crop model
included) from a local mirror of the release host; `weights list` says per task what is missing."""

import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from totalseg.cli import main
from totalseg.models.tasks import get_task

FILES = {"plans.json": b"{}", "dataset.json": b"{}", "fold_0/checkpoint_final.pth": b"weights"}


@pytest.fixture
def mirror(tmp_path):
    root, requested = tmp_path / "mirror", []
    root.mkdir()

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requested.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root, requested
    server.shutdown()


def publish(root, spec):
    (root / spec.release).mkdir(exist_ok=True)
    with zipfile.ZipFile(root / spec.release / spec.zip_name, "w") as zf:
        for name, data in FILES.items():
            zf.writestr(f"{spec.folder}/{spec.model_subdir}/{name}", data)


def test_a_task_download_brings_its_crop_model(tmp_path, mirror, monkeypatch, capsys):
    base_url, root, requested = mirror
    task = get_task("lung_vessels")
    rough = get_task("total", "fast").models[0]  # lung_vessels crops with the 3 mm model
    for spec in (rough, *task.models):
        publish(root, spec)
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path / "weights"))
    assert main(["weights", "list"]) == 0
    assert "lung_vessels                 full: 297, 117 (totalseg weights download -ta lung_vessels)" \
        in capsys.readouterr().out
    assert main(["weights", "download", "-ta", "lung_vessels", "--base-url", base_url, "-q"]) == 0
    assert sorted(requested) == sorted(f"/{s.release}/{s.zip_name}" for s in (rough, *task.models))
    capsys.readouterr()
    assert main(["weights", "list"]) == 0
    assert "lung_vessels                 ready" in capsys.readouterr().out


def test_a_task_without_fast_models_refuses_fast_downloads(capsys):
    assert main(["weights", "download", "-ta", "cerebral_bleed", "-f"]) == 2
    assert "task cerebral_bleed does not work with option --fast" in capsys.readouterr().err


def test_a_task_without_an_official_download_says_so_without_network(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path / "weights"))
    monkeypatch.setattr("socket.socket.connect", lambda *a: (_ for _ in ()).throw(AssertionError("network")))
    assert main(["weights", "download", "-ta", "total_highres_test"]) == 2
    err = capsys.readouterr().err
    assert "the official tool publishes no download for it" in err and "3d_fullres_high there by hand" in err
    assert len(err.strip().splitlines()) == 1
