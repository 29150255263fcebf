"""The weights store: official layout, import, download from a local mirror, list, and the CLI."""

from __future__ import annotations

import doctest
import functools
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

import totalseg.models.store as store_module
from totalseg.cli import main
from totalseg.errors import DownloadError, InputError, WeightsError
from totalseg.models.model import load_model
from totalseg.models.store import MODEL_FILES, WeightsStore
from totalseg.models.synthetic import TINY, write_random_model
from totalseg.models.tasks import all_models, get_task

FAST = all_models()[297]
CONTENT = {"plans.json": b'{"plans": 1}', "dataset.json": b'{"labels": {}}', "fold_0/checkpoint_final.pth": b"CKPT"}


def official_zip(path, specs, *, subdir=None, content=CONTENT, extra=True):
    """A zip in the official release layout: <folder>/<trainer>__nnUNetPlans__3d_fullres/..."""
    with zipfile.ZipFile(path, "w") as zf:
        for spec in specs:
            base = f"{spec.folder}/{subdir or spec.model_subdir}"
            zf.writestr(f"{spec.folder}/", b"")
            for name, data in content.items():
                zf.writestr(f"{base}/{name}", data)
            if extra:
                zf.writestr(f"{base}/fold_0/progress.png", b"PNG")
    return path


def plain_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def fill(store, spec, content=CONTENT):
    for name, data in content.items():
        path = store.model_dir(spec) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_model_dir_is_the_official_layout(tmp_path):
    store = WeightsStore(tmp_path)
    assert store.model_dir(FAST) == (
        tmp_path / "Dataset297_TotalSegmentator_total_3mm_1559subj"
        / "nnUNetTrainer_4000epochs_NoMirroring__nnUNetPlans__3d_fullres"
    )


def test_has_needs_all_three_files_and_a_non_empty_checkpoint(tmp_path):
    store = WeightsStore(tmp_path)
    assert not store.has(FAST)
    fill(store, FAST, {k: v for k, v in CONTENT.items() if k != "dataset.json"})
    assert not store.has(FAST)
    fill(store, FAST, {**CONTENT, "fold_0/checkpoint_final.pth": b""})
    assert not store.has(FAST)
    fill(store, FAST)
    assert store.has(FAST) and store.require(FAST) == store.model_dir(FAST)


@pytest.mark.parametrize(
    ("model_id", "flags"),
    [(297, "--task total --fast"), (291, "--task total"), (295, "--task total"), (298, "--task total --fastest"),
     (852, "--task total_mr --fast"), (850, "--task total_mr"), (300, "--task body --fast")],
)
def test_require_says_how_to_install_in_one_line(tmp_path, model_id, flags):
    spec = all_models()[model_id]
    with pytest.raises(WeightsError) as info:
        WeightsStore(tmp_path).require(spec)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"model {model_id} ({spec.folder}) in {tmp_path} is not installed; ")
    assert f"`totalseg weights download {flags}`" in message
    assert f"download {spec.url} and run `totalseg weights import {spec.zip_name}`" in message


def test_require_names_the_missing_or_empty_file(tmp_path):
    store = WeightsStore(tmp_path)
    fill(store, FAST, {**CONTENT, "fold_0/checkpoint_final.pth": b""})
    empty = rf"is incomplete \({FAST.model_subdir}/fold_0/checkpoint_final\.pth is empty\)"
    with pytest.raises(WeightsError, match=empty):
        store.require(FAST)
    (store.model_dir(FAST) / "dataset.json").unlink()
    with pytest.raises(WeightsError, match=r"is incomplete \(.*/dataset\.json is missing\); run `totalseg weights"):
        store.require(FAST)


def test_folder_filled_by_the_official_tool_is_used_as_is(tmp_path):
    folder = write_random_model(tmp_path, FAST, layout=TINY)  # the official on-disk layout
    store = WeightsStore(tmp_path)
    assert store.require(FAST) == folder
    model = load_model(store.require(FAST))
    assert isinstance(model.network, torch.nn.Module)


def test_import_zip_installs_the_model_with_its_content(tmp_path):
    zp = official_zip(tmp_path / FAST.zip_name, [FAST])
    store = WeightsStore(tmp_path / "weights")
    assert store.import_zip(zp) == [FAST]
    assert store.has(FAST)
    for name, data in CONTENT.items():
        assert (store.model_dir(FAST) / name).read_bytes() == data
    assert (store.model_dir(FAST) / "fold_0" / "progress.png").read_bytes() == b"PNG"
    assert sorted(p.name for p in store.weights_dir.iterdir()) == [FAST.folder]  # no staging left


def test_import_zip_with_several_models_and_replacing_a_broken_folder(tmp_path):
    parts = get_task("total").models[:2]
    store = WeightsStore(tmp_path / "weights")
    fill(store, parts[0], {"plans.json": b"half"})  # an earlier, incomplete install
    assert store.import_zip(official_zip(tmp_path / "two.zip", parts, extra=False)) == list(parts)
    assert all(store.has(spec) for spec in parts)
    assert (store.model_dir(parts[0]) / "plans.json").read_bytes() == CONTENT["plans.json"]


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda p: official_zip(p, [FAST], subdir="nnUNetTrainer__nnUNetPlans__3d_fullres"),
         rf"{FAST.folder}/{FAST.model_subdir}/plans\.json is missing or empty; expected an official"),
        (lambda p: official_zip(p, [FAST], content={**CONTENT, "fold_0/checkpoint_final.pth": b""}),
         r"fold_0/checkpoint_final\.pth is missing or empty"),
        (lambda p: official_zip(p, [FAST], content={"plans.json": b"{}", "dataset.json": b"{}"}),
         r"fold_0/checkpoint_final\.pth is missing or empty"),
        (lambda p: plain_zip(p, {"Dataset999_other/x/plans.json": b"{}"}),
         "'Dataset999_other' is not the folder of a model totalseg runs; expected an official"),
        (lambda p: plain_zip(p, {"Dataset999_other/": b""}), "the archive holds no files"),
        (lambda p: p.write_bytes(b"<html>not found</html>"), "not a zip archive or corrupt"),
    ],
)
def test_import_zip_refuses_other_layouts_before_writing(tmp_path, build, match):
    zp = tmp_path / "in.zip"
    build(zp)
    store = WeightsStore(tmp_path / "weights")
    with pytest.raises(InputError, match=match):
        store.import_zip(zp)
    assert not store.weights_dir.exists()


def test_list_reports_every_registry_model_and_unknown_folders(tmp_path):
    store = WeightsStore(tmp_path)
    store.import_zip(official_zip(tmp_path / "z.zip", [FAST]))
    (tmp_path / "Dataset999_another_lab_model" / "x").mkdir(parents=True)
    (tmp_path / "Dataset999_another_lab_model" / "x" / "plans.json").write_bytes(b"12345")
    (tmp_path / ".hidden.extract-1").mkdir()
    statuses = {s.spec.model_id: s for s in store.list()}
    assert sorted(statuses) == sorted(all_models())
    assert statuses[297].installed and statuses[297].size_bytes == sum(map(len, CONTENT.values())) + len(b"PNG")
    assert not statuses[291].installed and statuses[291].size_bytes == 0
    spec, installed, size = store.list()[0]  # plain tuples too
    assert (spec.model_id, installed, size) == (8, False, 0)  # liver_vessels' model has the lowest id
    assert store.unknown_folders() == [(tmp_path / "Dataset999_another_lab_model", 5)]
    assert WeightsStore(tmp_path / "absent").unknown_folders() == []


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP mirror of the release host: <root>/<release>/<zip>; yields (base_url, root, paths)."""
    root = tmp_path / "mirror"
    root.mkdir()
    requested = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requested.append(self.path)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", root, requested
    httpd.shutdown()
    httpd.server_close()


def publish(root, spec, specs_inside=None):
    (root / spec.release).mkdir(exist_ok=True)
    official_zip(root / spec.release / spec.zip_name, specs_inside or [spec])


def test_download_fetches_missing_models_from_a_mirror(tmp_path, mirror):
    base_url, root, requested = mirror
    publish(root, FAST)
    store = WeightsStore(tmp_path / "weights")
    assert store.download(get_task("total", "fast"), progress=False, base_url=base_url + "/") == [store.model_dir(FAST)]
    assert requested == [f"/v2.0.0-weights/{FAST.zip_name}"]
    assert store.has(FAST)
    assert sorted(p.name for p in store.weights_dir.iterdir()) == [FAST.folder]  # zip deleted
    assert store.download(get_task("total", "fast"), progress=False, base_url=base_url) == []
    assert len(requested) == 1  # already installed: no request


def test_download_of_a_zip_without_the_model_fails_and_cleans_up(tmp_path, mirror):
    base_url, root, _ = mirror
    publish(root, FAST, specs_inside=[all_models()[298]])
    store = WeightsStore(tmp_path / "weights")
    with pytest.raises(DownloadError, match=f"does not hold {FAST.folder}"):
        store.download(get_task("total", "fast"), progress=False, base_url=base_url)
    assert not (store.weights_dir / FAST.zip_name).exists()


def test_download_of_a_corrupt_zip_fails_and_removes_it(tmp_path, mirror):
    base_url, root, _ = mirror
    (root / FAST.release).mkdir()
    (root / FAST.release / FAST.zip_name).write_bytes(b"not a zip")
    store = WeightsStore(tmp_path / "weights")
    with pytest.raises(DownloadError, match="is unusable .*not a zip archive"):
        store.download(get_task("total", "fast"), progress=False, base_url=base_url)
    assert list(store.weights_dir.iterdir()) == []


def test_download_missing_on_mirror_names_url_and_status(tmp_path, mirror):
    base_url, _, _ = mirror
    with pytest.raises(DownloadError, match=rf"{base_url}/v2.0.0-weights/{FAST.zip_name}: HTTP 404"):
        WeightsStore(tmp_path).download(get_task("total", "fast"), progress=False, base_url=base_url)


def test_cli_download_list_and_import(tmp_path, mirror, monkeypatch, capsys):
    base_url, root, _ = mirror
    publish(root, FAST)
    weights = tmp_path / "weights"
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(weights))
    assert main(["weights", "download", "--task", "total", "-f", "--base-url", base_url, "-q"]) == 0
    assert f"installed {WeightsStore(weights).model_dir(FAST)}" in capsys.readouterr().out
    assert main(["weights", "download", "--task", "total", "--fast", "--base-url", base_url]) == 0
    assert "model 297 already installed" in capsys.readouterr().out

    zp = official_zip(tmp_path / "mr.zip", [all_models()[852]])
    assert main(["weights", "import", str(zp)]) == 0
    assert "installed model 852 (--task total_mr --fast)" in capsys.readouterr().out

    assert main(["weights", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"weights folder: {weights}"
    row = {line.split()[0]: line.split() for line in lines[1:]}
    assert row["297"][1] == "installed" and row["852"][1] == "installed" and row["291"][1] == "missing"


def test_cli_errors_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path / "weights"))
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"junk")
    assert main(["weights", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("totalseg: error: ") and err.count("\n") == 1 and "not a zip archive" in err


def test_model_files_and_docstring_examples():
    assert MODEL_FILES == ("plans.json", "dataset.json", "fold_0/checkpoint_final.pth")
    assert doctest.testmod(store_module).failed == 0
