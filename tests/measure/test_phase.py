"""``totalseg phase``: the official result logic against the official tool's outputs, known-answer
features from hand-made segmentations, fetching the classifier file, the command's errors."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.anatomy.class_maps import class_map
from totalseg.cli import main
from totalseg.errors import DownloadError, InputError, WeightsError
from totalseg.measure.classifier_files import PHASE_FILE, ClassifierFile, classifier_path
from totalseg.measure.phase import (
    NECK_VESSELS,
    ORGANS,
    get_phase,
    load_phase_regressors,
    phase_features,
    pi_time_to_phase,
    predict_phase,
)

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "phase_golden"
TOTAL = {name: i for i, name in class_map("total").items()}
HEADNECK = {name: i for i, name in class_map("headneck_bones_vessels").items()}


def test_pi_time_to_phase_matches_official_table():
    for pi_time, phase, probability in json.loads((GOLDEN / "phase_thresholds.json").read_text()):
        assert pi_time_to_phase(pi_time) == (phase, probability), pi_time


def test_predict_phase_matches_official_results(classifier_settings):
    golden = np.load(GOLDEN / "phase.npz")
    regressors = load_phase_regressors(weights_dir=classifier_settings.weights_dir, download=False)
    results = [predict_phase(x, regressors) for x in golden["features"]]
    assert results == [json.loads(r) for r in golden["results"]]  # 200 of 200 dicts equal


def write_case(folder: Path, *, brain_voxels: int) -> tuple[Path, Path, Path, np.ndarray]:
    """A 2 mm CT whose structures hold known values, its total and headneck multilabel files."""
    rng = np.random.default_rng(3)
    shape = (30, 30, 30)
    ct = np.full(shape, -1000, np.int16)
    total = np.zeros(shape, np.uint8)
    neck = np.zeros(shape, np.uint8)
    medians = {}
    for k, name in enumerate(ORGANS):
        if name == "brain" and brain_voxels == 0:
            continue
        n = brain_voxels if name == "brain" else 5 + k  # odd and even voxel counts
        x, y = divmod(k, 6)
        idx = (slice(1 + 5 * x, 1 + 5 * x + 1), slice(1 + 5 * y, 1 + 5 * y + 1), slice(0, n))
        values = rng.integers(-50, 400, n).astype(np.int16)
        ct[idx] = values.reshape(1, 1, n)
        total[idx] = TOTAL[name]
        medians[name] = float(np.median(values))
    for k, name in enumerate(NECK_VESSELS):
        idx = (slice(26, 27), slice(2 + 5 * k, 3 + 5 * k), slice(0, 7))
        values = rng.integers(100, 300, 7).astype(np.int16)
        ct[idx] = values.reshape(1, 1, 7)
        neck[idx] = HEADNECK[name]
        medians[name] = float(np.median(values))
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    paths = []
    for name, array in (("ct", ct), ("total", total), ("neck", neck)):
        paths.append(folder / f"{name}.nii.gz")
        nib.save(nib.Nifti1Image(array, affine), paths[-1])
    expected = np.array([medians.get(name, 0.0) for name in ORGANS + NECK_VESSELS])
    return *paths, expected


@pytest.mark.parametrize("brain_voxels", [0, 12, 14])  # brain 0, 96 and 112 mm3: neck features only for 112
def test_features_from_segmentations_known_answer(tmp_path, classifier_settings, brain_voxels):
    ct, total, neck, expected = write_case(tmp_path, brain_voxels=brain_voxels)
    if brain_voxels * 8 <= 100:
        expected[16:] = 0.0
    from totalseg.measure.segmentations import medians_from_segmentation

    stats = medians_from_segmentation(ct, total, "total")
    neck_stats = medians_from_segmentation(ct, neck, "headneck_bones_vessels")
    features = phase_features(stats, neck_stats if stats["brain"]["volume"] > 100 else None)
    assert features.tolist() == expected.tolist()
    regressors = load_phase_regressors(weights_dir=classifier_settings.weights_dir, download=False)
    result = get_phase(ct, seg=total, seg_headneck=neck, settings=classifier_settings)
    assert result == predict_phase(expected, regressors)


def test_mask_folder_gives_the_same_features(tmp_path, classifier_settings):
    ct, total, _, expected = write_case(tmp_path, brain_voxels=0)
    masks = tmp_path / "masks"
    masks.mkdir()
    img = nib.load(total)
    labels = np.asarray(img.dataobj)
    for name in ORGANS[:-1] + ("spleen",):  # small_bowel missing: absent, intensity 0.0
        nib.save(nib.Nifti1Image((labels == TOTAL[name]).astype(np.uint8), img.affine), masks / f"{name}.nii.gz")
    expected[15:] = 0.0
    regressors = load_phase_regressors(weights_dir=classifier_settings.weights_dir, download=False)
    assert get_phase(ct, seg=masks, settings=classifier_settings) == predict_phase(expected, regressors)


def test_existing_statistics_without_brain(tmp_path, classifier_settings):
    stats = {name: {"volume": 50.0, "intensity": 100.0 + i} for i, name in enumerate(ORGANS)}
    path = tmp_path / "statistics.json"
    path.write_text(json.dumps(stats))
    regressors = load_phase_regressors(weights_dir=classifier_settings.weights_dir, download=False)
    expected = np.array([100.0 + i for i in range(16)] + [0.0] * 4)
    assert get_phase(tmp_path / "unused.nii.gz", stats=path, settings=classifier_settings) == \
        predict_phase(expected, regressors)


def test_model_run_with_tiny_weights(tmp_path, make_phantom, model_settings, monkeypatch):
    import totalseg.api

    runs = []
    real = totalseg.api.segment

    def spy(*args, **kwargs):
        runs.append((kwargs["task"], kwargs["fast"], kwargs["statistics_aggregation"],
                     kwargs["statistics_include_incomplete"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(totalseg.api, "segment", spy)
    image = tmp_path / "phantom.nii.gz"
    nib.save(nib.Nifti1Image(make_phantom((48, 40, 30)), np.diag([3.0, 3.0, 3.0, 1.0])), image)
    result = get_phase(image, settings=model_settings)
    assert list(result) == ["pi_time", "phase", "probability", "pi_time_min", "pi_time_max", "stddev"]
    assert result["pi_time_min"] <= result["pi_time"] <= result["pi_time_max"]
    assert runs == [("total", True, "median", True)]  # the random brain is below 100 mm3: no neck run
    stats = {name: {"volume": 1000.0, "intensity": 50.0} for name in ORGANS}
    (tmp_path / "statistics.json").write_text(json.dumps(stats))
    assert set(get_phase(image, stats=tmp_path / "statistics.json", settings=model_settings)) == set(result)
    assert runs[1:] == [("headneck_bones_vessels", False, "median", True)]  # brain present: the neck model runs


@pytest.fixture
def file_server():
    """An HTTP server on 127.0.0.1 serving tests/data/phase_golden; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(GOLDEN))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_classifier_file_is_fetched_once_and_checked(tmp_path, file_server, monkeypatch):
    path = classifier_path(PHASE_FILE, weights_dir=tmp_path, base_url=file_server)
    assert path == tmp_path / "classifiers" / PHASE_FILE.name
    assert path.read_bytes() == (GOLDEN / PHASE_FILE.name).read_bytes()
    assert len(load_phase_regressors(weights_dir=tmp_path, download=False)) == 5
    path.write_bytes(b"x" * PHASE_FILE.size)  # damaged in place: fetched again
    assert classifier_path(PHASE_FILE, weights_dir=tmp_path, base_url=file_server).read_bytes()[:2] == b"\x80\x04"
    wrong = ClassifierFile(PHASE_FILE.name, PHASE_FILE.size, "0" * 64)
    with pytest.raises(DownloadError, match="sha256 differs"):
        classifier_path(wrong, weights_dir=tmp_path / "other", base_url=file_server)
    assert not (tmp_path / "other" / "classifiers" / PHASE_FILE.name).exists()
    with pytest.raises(WeightsError, match="missing; allow downloads"):
        classifier_path(PHASE_FILE, weights_dir=tmp_path / "none", download_missing=False)


def test_cli_writes_the_official_json(tmp_path, classifier_settings, monkeypatch, capsys):
    ct, total, neck, expected = write_case(tmp_path, brain_voxels=14)
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(classifier_settings.weights_dir))
    out = tmp_path / "phase.json"
    assert main(["phase", "-i", str(ct), "--seg", str(total), "--seg-headneck", str(neck), "-o", str(out)]) == 0
    regressors = load_phase_regressors(weights_dir=classifier_settings.weights_dir, download=False)
    assert out.read_text() == json.dumps(predict_phase(expected, regressors), indent=4)
    assert capsys.readouterr().out.startswith("Result:\n{'phase': ")


@pytest.mark.parametrize("extra, message", [
    (["--seg-headneck", "NECK"], "--seg-headneck goes with --seg"),
    (["--seg", "SMALL"], "grid (4, 4, 4) differs from the image's (30, 30, 30)"),
    (["--seg", "CT", "--stats", "STATS"], "either --seg or --stats"),
    (["--stats", "BAD"], "cannot read the statistics"),
    (["--seg", "EMPTY"], "no mask of the task's classes"),
])
def test_cli_errors_are_one_line(tmp_path, classifier_settings, monkeypatch, capsys, extra, message):
    ct, total, neck, _ = write_case(tmp_path, brain_voxels=0)
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.uint8), np.eye(4)), tmp_path / "small.nii.gz")
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "empty").mkdir()
    names = {"NECK": neck, "SMALL": tmp_path / "small.nii.gz", "CT": total, "STATS": tmp_path / "bad.json",
             "BAD": tmp_path / "bad.json", "EMPTY": tmp_path / "empty"}
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(classifier_settings.weights_dir))
    argv = ["phase", "-i", str(ct), "-o", str(tmp_path / "p.json"), *[str(names.get(a, a)) for a in extra]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("totalseg: error: ")


def test_missing_classifier_without_download_is_one_line(tmp_path, monkeypatch, capsys):
    ct, total, _, _ = write_case(tmp_path, brain_voxels=0)
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path / "empty-weights"))
    assert main(["phase", "-i", str(ct), "--seg", str(total), "-o", str(tmp_path / "p.json"), "--no-download"]) == 2
    assert "contrast_phase_classifiers_2024_07_19.pkl" in capsys.readouterr().err


def test_statistics_of_a_roi_subset_are_refused():
    with pytest.raises(InputError, match="no intensity for pancreas"):
        phase_features({"liver": {"volume": 1.0, "intensity": 1.0}}, None)
