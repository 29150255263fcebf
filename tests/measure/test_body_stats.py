"""Body statistics (the official CNN estimate behind the MCP tool ``estimate_body_statistics``):
goldens of the official code on seeded models of the official format (benchmarks/body_stats_golden.py),
the model fetched from a licence server on 127.0.0.1, one-line errors."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("monai")

import torch  # noqa: E402

from totalseg.errors import InputError, WeightsError  # noqa: E402
from totalseg.io import read_volume  # noqa: E402
from totalseg.measure.body_stats import BY_TRAINING_NAME, TARGET_ORDERS, estimate_body_stats, predict  # noqa: E402
from totalseg.measure.body_stats_input import model_input  # noqa: E402
from totalseg.measure.body_stats_model import MODEL_FOLDERS, ROOT_FOLDER, ensure_model  # noqa: E402
from totalseg.measure.body_stats_synthetic import write_synthetic_model  # noqa: E402
from totalseg.models.license import LicenseAccess  # noqa: E402
from totalseg.settings import Settings  # noqa: E402

DATA = Path(__file__).parents[1] / "data"
GOLDEN = DATA / "body_stats"
OFFICIAL = json.loads((GOLDEN / "official_results.json").read_text())
MODELS, INPUTS = OFFICIAL["models"], OFFICIAL["inputs"]  # with the hyper-parameters each was made with


@pytest.fixture(scope="module")
def body_weights(tmp_path_factory) -> dict[str, Path]:
    """For each golden model, a weights folder holding it where the official tool keeps it."""
    roots = {}
    for name, model in MODELS.items():
        root = tmp_path_factory.mktemp(name)
        write_synthetic_model(root / ROOT_FOLDER / MODEL_FOLDERS["ct"], model["hparams"], folds=model["folds"])
        roots[name] = root
    return roots


@pytest.fixture(scope="module")
def ct():
    return read_volume(DATA / "ct_small_3mm.nii.gz")


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_network_input_is_the_official_one(name, ct):
    expected = np.load(GOLDEN / "official_inputs.npz")[name]
    ours = model_input(ct, INPUTS[name], "ct")
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)


def _same_result(ours: dict, official: dict) -> None:
    """Equal to the official result (its JSON has sorted keys; the order is the official CT target order)."""
    assert list(ours) == [BY_TRAINING_NAME[n] for n in TARGET_ORDERS["ct"]] + ["bmi", "bsa"]
    assert set(ours) == set(official)
    for target, entry in official.items():
        assert set(ours[target]) == set(entry), target
        for key, value in entry.items():
            if isinstance(value, float):  # rounded to 2 or 4 decimals; torch versions differ in the last bits
                assert math.isclose(ours[target][key], value, abs_tol=0.011), (target, key)
            else:
                assert ours[target][key] == value, (target, key)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_estimate_is_the_official_one(name, body_weights, ct):
    folds = MODELS[name]["folds"]
    folder = body_weights[name] / ROOT_FOLDER / MODEL_FOLDERS["ct"]
    preds, _ = predict(ct, folder, modality="ct", device=torch.device("cpu"), folds=folds)
    np.testing.assert_allclose(preds, np.array(MODELS[name]["fold_predictions"]), rtol=1e-4, atol=1e-3)
    result = estimate_body_stats(DATA / "ct_small_3mm.nii.gz", modality="ct", folds=folds, download=False,
                                 settings=Settings(home_dir=body_weights[name], weights_dir=body_weights[name]))
    _same_result(result, MODELS[name]["result"])


def _model_zip(weights_dir: Path) -> bytes:
    """The licence server's zip: the model folder at the top, as the official tool unpacks it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted((weights_dir / ROOT_FOLDER).rglob("*")):
            zf.write(path, path.relative_to(weights_dir / ROOT_FOLDER).as_posix())
    return buf.getvalue()


def test_model_fetched_from_the_licence_server(license_server, body_weights, tmp_path):
    key = next(iter(license_server.valid))
    license_server.zips["body_stats_ct"] = _model_zip(body_weights["tiny_5_folds"])
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text(json.dumps({"license_number": key}))
    folder = ensure_model(tmp_path / "weights", "ct", access=LicenseAccess(home, license_server.url))
    assert folder == tmp_path / "weights" / "lightning_models" / "ct_all_ext_splitOrig_noise_can1_huber"
    assert sorted(p.name for p in folder.iterdir()) == [f"version_{k}" for k in range(5)]
    path, body = license_server.requests[-1]
    assert path == "/download_weights" and body == {"license_number": key, "task": "body_stats_ct",
                                                    "version": "2.18.0"}
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no download left behind


def test_missing_model_and_bad_modality_are_one_line_errors(tmp_path):
    settings = Settings(home_dir=tmp_path, weights_dir=tmp_path / "weights")
    with pytest.raises(WeightsError, match="body-statistics model .* is missing; allow downloads"):
        estimate_body_stats(DATA / "ct_small_3mm.nii.gz", modality="ct", settings=settings, download=False)
    with pytest.raises(InputError, match="needs a licence key"):
        ensure_model(tmp_path / "weights", "mr", access=LicenseAccess(tmp_path, "http://127.0.0.1:9"))
    with pytest.raises(InputError, match="modality 'pet': expected ct or mr"):
        estimate_body_stats(DATA / "ct_small_3mm.nii.gz", modality="pet", settings=settings)


def test_cli_writes_the_official_result(body_weights, tmp_path, monkeypatch, capsys):
    from totalseg.cli import main

    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(body_weights["multihead_fold_0"]))
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tmp_path / "home"))
    out = tmp_path / "body_stats.json"
    assert main(["body-stats", "-i", str(DATA / "ct_small_3mm.nii.gz"), "-m", "ct", "-f", "0", "-o", str(out),
                 "--no-download"]) == 0
    _same_result(json.loads(out.read_text()), MODELS["multihead_fold_0"]["result"])
    assert "weight:              " in capsys.readouterr().out  # aligned as the official tool prints
    assert main(["body-stats", "-i", str(DATA / "ct_small_3mm.nii.gz"), "-m", "ct", "-f", "7", "-q"]) == 2
    assert "-f 7: expected a fold 0-4 or all" in capsys.readouterr().err


class _Payload:
    """Pickles as a call to ``os.system``: loading it must never run it."""

    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > pwned.txt",))


def test_checkpoint_holding_code_is_refused_not_run(tmp_path, monkeypatch):
    from totalseg.measure.body_stats_model import read_checkpoint

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "epoch=1.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"model": "resnet3d_10", "hook": _Payload()}}, path)
    with pytest.raises(WeightsError, match="refused to load"):
        read_checkpoint(path)
    assert not (tmp_path / "pwned.txt").exists()
