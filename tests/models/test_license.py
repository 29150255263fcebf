"""Licence keys and licensed downloads, against a licence server on 127.0.0.1 started by the tests."""

from __future__ import annotations

import doctest
import io
import json
import re
import zipfile
from pathlib import Path

import nibabel as nib
import pytest

import totalseg
import totalseg.models.license as license_module
from totalseg.errors import DownloadError, InputError, WeightsError
from totalseg.models.license import (
    LicenseAccess,
    download_licensed_zip,
    ensure_config,
    is_valid_key,
    key_state,
    require_license,
    set_key,
)
from totalseg.models.store import WeightsStore
from totalseg.models.tasks import all_models, get_task
from totalseg.settings import Settings

KEY = "aca_ABCDEFGH123456"  # the key the test licence server (tests/conftest.py) accepts
BONES = all_models()[304]  # appendicular_bones: one licence-server model, no crop


@pytest.fixture
def server(license_server):
    return license_server


def with_key(home: Path, key=KEY, **extra) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.json").write_text(json.dumps({"totalseg_id": "totalseg_X", "license_number": key, **extra}))
    return home


@pytest.mark.parametrize(("config", "status"), [
    (None, "missing_config_file"),
    ({"totalseg_id": "x"}, "missing_license"),
    ({"license_number": "aca_short"}, "invalid_license"),
    ({"license_number": None}, "invalid_license"),
    ({"license_number": KEY}, "valid"),
    ({"license_number": "com_0123456789abcd"}, "valid"),  # the offline rule is the length alone
])
def test_key_state_is_the_official_offline_rule(tmp_path, config, status):
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
    assert key_state(tmp_path).status == status


@pytest.mark.parametrize(("config", "match"), [
    (None, r"no licence key stored \(.*config.json does not exist\)"),
    ({"totalseg_id": "x"}, "no licence key stored in .*config.json"),
    ({"license_number": "aca_short"}, r"the licence key 'aca_short' in .* is invalid \(a key has 18 characters\)"),
])
def test_a_licensed_task_without_a_usable_key_says_how_to_get_one(tmp_path, config, match):
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError) as info:
        require_license(tmp_path, "face")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("task face needs a licence key: ")
    assert "run `totalseg license set KEY`" in message
    assert "https://backend.totalsegmentator.com/license-academic/" in message
    assert re.search(match, message)


def test_a_broken_config_file_is_one_line(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(InputError, match=r"config.json: cannot read the config file .*; fix or remove it$"):
        key_state(tmp_path)


def test_ensure_config_writes_the_official_first_config(tmp_path):
    config = ensure_config(tmp_path / "home")
    assert set(config) == {"totalseg_id", "send_usage_stats", "prediction_counter"}
    assert config["totalseg_id"].startswith("totalseg_") and len(config["totalseg_id"]) == 17
    assert config["send_usage_stats"] is True and config["prediction_counter"] == 0
    assert json.loads((tmp_path / "home" / "config.json").read_text()) == config
    assert ensure_config(tmp_path / "home") == config  # an existing file is kept


def test_set_key_validates_online_and_keeps_the_other_entries(tmp_path, server):
    home = with_key(tmp_path, key="aca_old", prediction_counter=7, send_usage_stats=False)
    access = LicenseAccess(home, server.url)
    assert set_key(access, KEY) is True
    assert server.requests == [("/is_valid_license_number", {"license_number": KEY})]
    config = json.loads(access.config_file.read_text())
    assert config == {"totalseg_id": "totalseg_X", "license_number": KEY, "prediction_counter": 7,
                      "send_usage_stats": False}
    assert access.config_file.read_text().startswith('{\n    "totalseg_id"')  # json.dump(indent=4), as the official
    assert set_key(access, KEY) is False  # the stored key: not asked again
    assert len(server.requests) == 1
    assert [p.name for p in home.iterdir()] == ["config.json"]  # no temporary file left


def test_set_key_refuses_a_key_the_server_refuses(tmp_path, server):
    access = LicenseAccess(with_key(tmp_path, key="aca_old"), server.url)
    with pytest.raises(InputError, match=r"^the licence server refused the key 'aca_XXXXXXXXXXXXXX'; check it"):
        set_key(access, "aca_XXXXXXXXXXXXXX")
    assert json.loads(access.config_file.read_text())["license_number"] == "aca_old"
    assert set_key(access, "aca_XXXXXXXXXXXXXX", validate=False) is True  # --skip-validation
    assert len(server.requests) == 1


def test_validation_without_a_server_or_with_a_failing_one_says_what_to_do(tmp_path, server):
    with pytest.raises(DownloadError, match=r"^cannot reach the licence server .*--skip-validation`$"):
        is_valid_key(LicenseAccess(tmp_path, "http://127.0.0.1:9"), KEY)
    server.fail.append(500)
    with pytest.raises(DownloadError, match=r"HTTP 500 .*\(try later\); try again later, or store the key unchecked"):
        is_valid_key(LicenseAccess(tmp_path, server.url), KEY)


def test_access_from_the_environment():
    access = LicenseAccess.from_env({"TOTALSEG_HOME_DIR": "/h"})
    assert access.home_dir == Path("/h") and access.server == "https://backend.totalsegmentator.com:443"
    assert LicenseAccess.from_env({}, home_dir=Path("/x")).config_file == Path("/x/config.json")


def test_a_licensed_download_asks_as_the_official_tool_and_writes_the_official_layout(
        tmp_path, server, tiny_weights):
    server.serve(tiny_weights, BONES)
    store = WeightsStore(tmp_path / "weights", LicenseAccess(with_key(tmp_path / "home"), server.url))
    assert store.download(get_task("appendicular_bones"), progress=False) == [store.model_dir(BONES)]
    assert server.requests == [("/download_weights",
                                {"license_number": KEY, "task": "appendicular_bones", "version": "2.18.0"})]
    assert store.model_dir(BONES) == (tmp_path / "weights" / "Dataset304_appendicular_bones_ext_1559subj"
                                      / "nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres")
    for name in ("plans.json", "dataset.json", "fold_0/checkpoint_final.pth"):
        assert (store.model_dir(BONES) / name).read_bytes() == (tiny_weights / BONES.folder / BONES.model_subdir
                                                               / name).read_bytes()
    assert [p.name for p in store.weights_dir.iterdir()] == [BONES.folder]  # no zip, no .part
    assert store.download(get_task("appendicular_bones"), progress=False) == []
    assert len(server.requests) == 1


def test_a_refused_licence_on_download_is_one_line_and_installs_nothing(tmp_path, server):
    store = WeightsStore(tmp_path / "weights", LicenseAccess(with_key(tmp_path / "home", "aca_REVOKED0000000"),
                                                             server.url))
    with pytest.raises(InputError) as info:
        store.download(get_task("appendicular_bones"), progress=False)
    assert str(info.value) == (
        "the licence server refused the key 'aca_REVOKED0000000' (HTTP 401 Unauthorized (invalid_license)); "
        "store a valid one with `totalseg license set KEY` "
        "(a free key for non-commercial use: https://backend.totalsegmentator.com/license-academic/)")
    assert not store.weights_dir.exists() or list(store.weights_dir.iterdir()) == []


def test_a_licensed_download_needs_a_stored_key_before_asking(tmp_path, server):
    store = WeightsStore(tmp_path / "weights", LicenseAccess(tmp_path / "home", server.url))
    with pytest.raises(InputError, match=r"^task appendicular_bones needs a licence key: no licence key stored"):
        store.download(get_task("appendicular_bones"), progress=False)
    assert server.requests == []


def test_server_errors_are_retried_then_reported(tmp_path, server, tiny_weights):
    server.serve(tiny_weights, BONES)
    access = LicenseAccess(with_key(tmp_path / "home"), server.url)
    server.fail += [503, 500]
    zip_path = download_licensed_zip(access, BONES, tmp_path / "w" / "x.zip", progress=False, backoff_s=0)
    assert zipfile.ZipFile(zip_path).namelist()[0].startswith(BONES.folder)
    assert len(server.requests) == 3
    server.fail += [500] * 3
    with pytest.raises(DownloadError, match=r"failed 3 times \(last: HTTP 500 .*\); try again later$"):
        download_licensed_zip(access, BONES, tmp_path / "w" / "y.zip", progress=False, backoff_s=0)
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["x.zip"]
    server.fail.append(403)
    with pytest.raises(DownloadError, match=r"/download_weights: HTTP 403 .*; check the licence server address"):
        download_licensed_zip(access, BONES, tmp_path / "w" / "z.zip", progress=False)


def test_without_network_the_store_says_what_to_do(tmp_path):
    store = WeightsStore(tmp_path / "weights", LicenseAccess(with_key(tmp_path / "home"), "http://127.0.0.1:9"))
    with pytest.raises(DownloadError, match=r"^cannot reach the licence server http://127.0.0.1:9/download_weights"):
        store.download(get_task("appendicular_bones"), progress=False)
    with pytest.raises(WeightsError) as info:
        store.require(BONES)
    assert str(info.value) == (
        f"model 304 ({BONES.folder}) in {tmp_path / 'weights'} is not installed; it is a licensed model: "
        "run `totalseg license set KEY` (a free key for non-commercial use: "
        "https://backend.totalsegmentator.com/license-academic/), then "
        "`totalseg weights download --task appendicular_bones`")


def test_an_unsafe_zip_from_the_server_is_refused(tmp_path, server, tiny_weights):
    server.serve(tiny_weights, BONES)
    buf = io.BytesIO(server.zips["appendicular_bones"])
    with zipfile.ZipFile(buf, "a") as zf:  # the official layout, and one member that climbs out
        zf.writestr(f"{BONES.folder}/../../evil", b"evil")
    server.zips["appendicular_bones"] = buf.getvalue()
    store = WeightsStore(tmp_path / "weights", LicenseAccess(with_key(tmp_path / "home"), server.url))
    with pytest.raises(DownloadError, match=r"downloaded from the licence server .* is unusable .*'\.\.' component"):
        store.download(get_task("appendicular_bones"), progress=False)
    assert not (tmp_path / "evil").exists()
    assert list(store.weights_dir.iterdir()) == []


@pytest.fixture
def block_path(ct_small, tmp_path):
    """12 x 12 x 8 voxels of the real CT: one tile for the 1.5 mm licensed models."""
    path = tmp_path / "block.nii.gz"
    nib.save(nib.Nifti1Image(ct_small.array[54:66, 44:56, 11:19], ct_small.affine), path)
    return path


def test_segment_downloads_a_licensed_model_then_runs_without_network(tmp_path, server, tiny_weights, block_path,
                                                                       monkeypatch):
    server.serve(tiny_weights, BONES)
    monkeypatch.setenv("TOTALSEG_LICENSE_SERVER", server.url)
    settings = Settings(home_dir=tmp_path / "home", weights_dir=tmp_path / "weights")
    with pytest.raises(InputError, match="^task appendicular_bones needs a licence key"):
        totalseg.segment(block_path, task="appendicular_bones", quiet=True, device="cpu", settings=settings)
    first = totalseg.segment(block_path, task="appendicular_bones", quiet=True, device="cpu", settings=settings,
                             license_number=KEY)
    assert [path for path, _ in server.requests] == ["/is_valid_license_number", "/download_weights"]
    assert key_state(settings.home_dir).key == KEY
    monkeypatch.setenv("TOTALSEG_LICENSE_SERVER", "http://127.0.0.1:9")  # no server any more
    again = totalseg.segment(block_path, task="appendicular_bones", quiet=True, device="cpu", settings=settings,
                             license_number=KEY)  # the stored key: not asked again
    assert (first.get_fdata() == again.get_fdata()).all() and first.shape == (12, 12, 8)
    assert len(server.requests) == 2


def test_docstring_examples():
    assert doctest.testmod(license_module).failed == 0
