"""``totalseg modality``: features and votes against the official tool's outputs, the normalized
medians on a hand-made volume, a tiny-weights run of ``-n``, the command."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.cli import main
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.io import read_volume
from totalseg.measure.modality import (
    NORMALIZED_ORGANS,
    get_modality,
    image_features,
    load_modality_classifiers,
    normalized_medians,
    vote,
)

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "phase_golden"


@pytest.fixture(scope="module")
def golden():
    return np.load(GOLDEN / "modality.npz")


def test_image_features_and_result_match_official(golden, ct_small_path, classifier_settings):
    features = image_features(read_volume(ct_small_path).array)
    assert features.tolist() == golden["ct_small_features"].tolist()  # bit for bit
    assert get_modality(ct_small_path, settings=classifier_settings) == json.loads(str(golden["ct_small_result"]))


def test_votes_match_official_results(golden, classifier_settings):
    plain = load_modality_classifiers(normalized=False, weights_dir=classifier_settings.weights_dir, download=False)
    results = [vote(image_features(a), plain) for a in golden["images"]]
    assert results == [json.loads(r) for r in golden["image_results"]]  # 40 of 40
    normalized = load_modality_classifiers(normalized=True, weights_dir=classifier_settings.weights_dir,
                                           download=False)
    results = [vote(x, normalized) for x in golden["normalized_features"]]
    assert results == [json.loads(r) for r in golden["normalized_results"]]  # 200 of 200


def test_normalized_features_keep_the_official_order(classifier_settings):
    # the official code feeds brain first although the models were trained with it last
    forests = load_modality_classifiers(normalized=True, weights_dir=classifier_settings.weights_dir, download=False)
    assert forests[0].feature_names[-1] == "brain_intensity_median"
    assert NORMALIZED_ORGANS[0] == "brain" and len(NORMALIZED_ORGANS) == 16
    assert [f"{n}_intensity_median" for n in NORMALIZED_ORGANS[1:]] == list(forests[0].feature_names[:-1])


def test_normalized_medians_known_answer():
    image = np.zeros((4, 4, 4), np.float32)
    image[0, 0, :] = [-1000.7, 3000.9, 10, 20]  # int16 cast truncates: min -1000, max 3000
    labels = np.zeros((4, 4, 4), np.uint8)
    labels[0, 0, 2:] = 1  # 10 and 20: median 15 -> 1015 / 4000
    labels[1, 1, 1] = 2  # a zero voxel: 1000 / 4000
    affine = np.eye(4)
    out = normalized_medians(Volume(image, affine=affine), LabelVolume(labels, affine=affine),
                             {1: "brain", 2: "colon", 3: "femur_left"})
    assert out == {"brain": 0.25375, "colon": 0.25, "femur_left": 0.0}


def test_normalized_medians_wrap_as_int16_arithmetic():
    image = np.zeros((2, 2, 2), np.int16)
    image[0, 0, 0], image[1, 1, 1] = -30000, 30000  # max - min overflows int16 (-5536), as in the official code
    labels = np.zeros((2, 2, 2), np.uint8)
    labels[0, 1, 0] = 1  # a zero voxel: 30000 / -5536
    affine = np.eye(4)
    out = normalized_medians(Volume(image, affine=affine), LabelVolume(labels, affine=affine), {1: "brain"})
    assert out == {"brain": round(30000 / -5536, 5)}


def test_normalized_run_with_tiny_weights(tmp_path, make_phantom, model_settings):
    image = tmp_path / "phantom.nii.gz"
    nib.save(nib.Nifti1Image(make_phantom((48, 40, 30)), np.diag([3.0, 3.0, 3.0, 1.0])), image)
    result = get_modality(image, normalized=True, settings=model_settings)
    assert set(result) == {"modality", "probability"} and result["modality"] in ("ct", "mr")
    assert result["probability"] in (0.6, 0.8, 1.0)


def test_cli_writes_the_official_json(tmp_path, classifier_settings, monkeypatch, golden, capsys):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(classifier_settings.weights_dir))
    image = tmp_path / "mr.nii.gz"
    nib.save(nib.Nifti1Image(golden["images"][1], np.eye(4)), image)
    out = tmp_path / "modality.json"
    assert main(["modality", "-i", str(image), "-o", str(out), "-q"]) == 0
    assert out.read_text() == json.dumps(json.loads(str(golden["image_results"][1])), indent=4)
    assert capsys.readouterr().out == ""


def test_cli_missing_input_is_one_line(tmp_path, classifier_settings, monkeypatch, capsys):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(classifier_settings.weights_dir))
    assert main(["modality", "-i", str(tmp_path / "none.nii.gz"), "-o", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.nii.gz" in err
