"""Augmentations: sampled parameters replay exactly, the spatial transform's grid path agrees with the
plain crop, labels stay labels, and each intensity transform does what it says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from totalseg.training.augment import (
    Augmentation,
    Brightness,
    Contrast,
    Gamma,
    GaussianNoise,
    LowResolution,
    Mirror,
    SpatialTransform,
    default_augmentation,
    no_augmentation,
)

PATCH = (8, 10, 12)


@pytest.fixture
def case():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(1, 20, 22, 24)).astype(np.float32)
    seg = np.zeros((1, 20, 22, 24), np.uint8)
    seg[0, 5:12, 6:15, 4:20] = 1
    seg[0, 12:18, 3:9, 10:14] = 3
    return data, seg


def test_plain_crop_is_the_case_window_zero_padded(case):
    data, seg = case
    aug = no_augmentation(PATCH)
    image, labels = aug.apply(data, seg, aug.sample(np.random.default_rng(0), np.array([10.0, 11.0, 12.0])))
    assert image.shape == (1, *PATCH) and image.dtype == torch.float32 and labels.dtype == torch.uint8
    np.testing.assert_array_equal(image.numpy(), data[:, 6:14, 6:16, 6:18])
    np.testing.assert_array_equal(labels.numpy(), seg[:, 6:14, 6:16, 6:18])
    # Centred on a corner: three quarters of the patch lie outside and are zero.
    image, labels = aug.apply(data, seg, aug.sample(np.random.default_rng(0), np.zeros(3)))
    np.testing.assert_array_equal(image[0, 4:, 5:, 6:].numpy(), data[0, :4, :5, :6])
    assert float(image[0, :4].abs().sum()) == 0.0


def test_grid_path_with_identity_transform_equals_crop(case):
    """A zero elastic field forces the grid_sample path; it must read the same voxels as the crop."""
    data, seg = case
    spatial = SpatialTransform(PATCH)
    params = {"center": [10.0, 11.0, 12.0], "matrix": np.eye(3).tolist(), "elastic": np.zeros((3, 4, 4, 4)).tolist()}
    image, labels = spatial.apply(data, seg, params)
    np.testing.assert_allclose(image.numpy(), data[:, 6:14, 6:16, 6:18], atol=1e-5)
    np.testing.assert_array_equal(labels.numpy(), seg[:, 6:14, 6:16, 6:18])


def test_rotation_by_90_degrees_about_the_first_axis(case):
    data, seg = case
    spatial = SpatialTransform((8, 8, 8))
    # Output offset (a, b, c) reads input offset (a, -c, b): a quarter turn in the (Y, X) plane.
    matrix = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]
    image, _ = spatial.apply(data, seg, {"center": [10.0, 11.0, 12.0], "matrix": matrix, "elastic": None})
    expected = np.array([[[data[0, 10 + a, 11 - c, 12 + b] for c in range(-4, 4)] for b in range(-4, 4)]
                         for a in range(-4, 4)])
    np.testing.assert_allclose(image[0].numpy(), expected, atol=1e-5)


def test_sampled_parameters_replay_exactly_and_labels_stay_labels(case):
    data, seg = case
    aug = default_augmentation(PATCH, mirror_axes=(0, 1, 2))
    aug = Augmentation(SpatialTransform(PATCH, p_rotation=1, p_scaling=1, p_elastic=1), aug.intensity)
    rng = np.random.default_rng(3)
    for _ in range(5):
        params = aug.sample(rng, np.array([10.0, 11.0, 12.0]))
        first, second = aug.apply(data, seg, params), aug.apply(data, seg, params)
        assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
        assert set(np.unique(first[1].numpy())) <= {0, 1, 3}
        assert first[0].shape == (1, *PATCH) and torch.isfinite(first[0]).all()


def test_sampling_decides_all_steps_from_the_generator():
    aug = default_augmentation(PATCH)
    a = aug.sample(np.random.default_rng(7), np.zeros(3))
    b = aug.sample(np.random.default_rng(7), np.zeros(3))
    assert a == b
    names = {name for params in [aug.sample(np.random.default_rng(s), np.zeros(3)) for s in range(200)]
             for name, _ in params["intensity"]}
    assert names == {"noise", "blur", "brightness", "contrast", "lowres", "gamma", "gamma_inverted"}


def test_intensity_transforms_known_answers():
    image = torch.linspace(0, 1, 4 * 4 * 4).reshape(1, 4, 4, 4)
    seg = torch.zeros((1, 4, 4, 4), dtype=torch.uint8)
    seg[0, 0, 0, 0] = 2
    assert torch.allclose(Brightness().apply(image, seg, {"factor": 1.2})[0], image * 1.2)
    contrast = Contrast().apply(image, seg, {"factor": 2.0})[0]
    assert contrast.std() > 1.2 * image.std()
    assert contrast.min() >= image.min() and contrast.max() <= image.max()
    gamma = Gamma().apply(image, seg, {"gamma": 2.0, "invert": False})[0]
    assert torch.isclose(gamma.mean(), image.mean(), atol=1e-5) and torch.isclose(gamma.std(), image.std(), atol=1e-5)
    noisy = GaussianNoise().apply(image, seg, {"variance": 0.01, "seed": 1})[0]
    assert 0.05 < float((noisy - image).std()) < 0.15
    low = LowResolution().apply(image, seg, {"zoom": 0.5})[0]
    assert low.shape == image.shape and not torch.equal(low, image)
    flipped_image, flipped_seg = Mirror(axes=(0, 2)).apply(image, seg, {"axes": [0, 2]})
    assert torch.equal(flipped_image, torch.flip(image, (1, 3))) and flipped_seg[0, 3, 0, 3] == 2
