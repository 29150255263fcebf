"""Preprocessing cached to disk (the inference pipeline's own steps) and the patch loader on top."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from totalseg.engine.preprocess import preprocess
from totalseg.engine.reader_view import reader_view
from totalseg.models.plans import ModelConfig
from totalseg.training.augment import default_augmentation, no_augmentation
from totalseg.training.fingerprint import compute_fingerprint, read_case
from totalseg.training.loader import PatchLoader
from totalseg.training.phantom import ORGANS, write_phantom_dataset
from totalseg.training.planner import PlannerOptions, plan_experiment
from totalseg.training.preprocessing import preprocess_arrays, preprocess_dataset
from totalseg.training.raw import RawDataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = write_phantom_dataset(tmp_path_factory.mktemp("pre") / "Dataset900_Phantom", n_train=3, shape=(24, 20, 16))
    return RawDataset.from_folder(root)


def plans_for(dataset, config):
    options = PlannerOptions(config=config, base_features=4, max_features=8, patch_size=(8, 8, 8), batch_size=3)
    return plan_experiment(compute_fingerprint(dataset), dataset.dataset_json, options=options, name="D")


def test_fingerprint_of_phantoms(dataset):
    fp = compute_fingerprint(dataset)
    assert fp.spacings_mm == ((3.0, 3.0, 3.0),) * 3 and fp.shapes == ((24, 20, 16),) * 3
    # Foreground = the organs: lung (-780 HU) to bone (700 HU) plus noise.
    assert -900 < fp.intensity["percentile_00_5"] < -700 and 600 < fp.intensity["percentile_99_5"] < 800


def test_preprocessing_is_the_inference_pipelines(dataset):
    plans = plans_for(dataset, "6mm")
    config = ModelConfig.from_dicts(plans, dataset.dataset_json)
    assert config.image_reader == "NibabelIOWithReorient"  # training reads canonical images: so must inference
    data, seg = preprocess_arrays(dataset.cases[0], config)
    image, _ = read_case(dataset.cases[0], canonical=False)
    view = reader_view(image.array, image.affine, image.header_zooms_mm, config.image_reader)
    expected = preprocess(view.data, view.spacing, config)  # what --model-dir and nnU-Net feed the network
    assert data.dtype == np.float32 and seg.dtype == np.uint8
    assert data.shape == seg.shape == (1, 8, 10, 12)  # (Z, Y, X) at 6 mm
    np.testing.assert_array_equal(data, expected.data.numpy())
    # Labels land on their organs: each organ's normalized intensity is tight around its own value.
    hu = {i: hu for i, (hu, _) in enumerate(ORGANS.values(), 1)}
    present = [c for c in np.unique(seg) if c]
    means = {c: float(data[seg == c].mean()) for c in present}
    assert sorted(present, key=means.get) == sorted(present, key=hu.get)


def test_the_stored_orientation_does_not_change_what_training_sees(dataset, tmp_path):
    """A case stored LPS trains on the same arrays as its RAS original (the reader reorients)."""
    import nibabel as nib

    from totalseg.training.raw import RawCase

    case = dataset.cases[0]
    flipped = []
    for path in (case.image, case.label):
        img = nib.load(path)
        data = np.asanyarray(img.dataobj)[::-1, ::-1]
        affine = img.affine @ np.array([[-1, 0, 0, data.shape[0] - 1], [0, -1, 0, data.shape[1] - 1],
                                        [0, 0, 1, 0], [0, 0, 0, 1]])
        flipped.append(tmp_path / path.name)
        nib.save(nib.Nifti1Image(np.ascontiguousarray(data), affine), flipped[-1])
    config = ModelConfig.from_dicts(plans_for(dataset, "3mm"), dataset.dataset_json)
    ras = preprocess_arrays(case, config)
    lps = preprocess_arrays(RawCase(case.case_id, flipped[0], flipped[1]), config)
    assert np.array_equal(ras[0], lps[0]) and np.array_equal(ras[1], lps[1])


def test_cache_is_reused_and_rebuilt_when_inputs_change(dataset, tmp_path):
    plans = plans_for(dataset, "3mm")
    config = ModelConfig.from_dicts(plans, dataset.dataset_json)
    cases = preprocess_dataset(dataset, config, plans, tmp_path)
    first = cases["phantom_000"]
    stamp = (tmp_path / "phantom_000.npy").stat().st_mtime_ns
    for c, voxels in first.locations().items():
        assert np.all(first.seg()[0][tuple(voxels.T)] == c)
    assert json.loads((tmp_path / "cache.json").read_text())["cases"] == ["phantom_000", "phantom_001", "phantom_002"]
    preprocess_dataset(dataset, config, plans, tmp_path)
    assert (tmp_path / "phantom_000.npy").stat().st_mtime_ns == stamp
    other = plans_for(dataset, "6mm")
    cases = preprocess_dataset(dataset, ModelConfig.from_dicts(other, dataset.dataset_json), other, tmp_path)
    assert cases["phantom_000"].data().shape == (1, 8, 10, 12)


def test_loader_oversamples_foreground_and_is_deterministic(dataset, tmp_path):
    plans = plans_for(dataset, "3mm")
    cases = list(preprocess_dataset(dataset, ModelConfig.from_dicts(plans, dataset.dataset_json), plans,
                                    tmp_path).values())
    loader = PatchLoader(cases, no_augmentation((8, 8, 8)), batch_size=3, seed=4)
    for i in range(10):
        batch = loader.batch(0, i)
        assert batch.image.shape == (3, 1, 8, 8, 8) and batch.seg.shape == (3, 1, 8, 8, 8)
        assert batch.seg[2, 0, 4, 4, 4] > 0  # the last third is centred on an organ voxel
    augmented = PatchLoader(cases, default_augmentation((8, 8, 8)), batch_size=3, seed=4)
    threaded = list(augmented.epoch(2, 4, threads=2))
    inline = [augmented.batch(2, i) for i in range(4)]
    assert all(torch.equal(a.image, b.image) and a.params == b.params for a, b in zip(threaded, inline))
    assert not torch.equal(augmented.batch(3, 0).image, inline[0].image)


def test_bad_label_maps_are_refused(tmp_path):
    import nibabel as nib

    from totalseg.errors import InputError

    root = write_phantom_dataset(tmp_path / "D", n_train=2, shape=(8, 8, 8))
    ds = RawDataset.from_folder(root)
    label = ds.cases[0].label
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 6), np.uint8), np.diag([3.0, 3, 3, 1])), label)
    with pytest.raises(InputError, match="does not match its image"):
        read_case(ds.cases[0])
    nib.save(nib.Nifti1Image(np.full((8, 8, 8), 0.5, np.float32), np.diag([3.0, 3, 3, 1])), label)
    with pytest.raises(InputError, match="non-integer"):
        read_case(ds.cases[0])
    nib.save(nib.Nifti1Image(np.full((8, 8, 8), 300, np.int16), np.diag([3.0, 3, 3, 1])), label)
    config = ModelConfig.from_dicts(plans_for(ds, "3mm"), ds.dataset_json)
    with pytest.raises(InputError, match="label ids must be 0..255, got 300..300"):
        preprocess_arrays(ds.cases[0], config)
