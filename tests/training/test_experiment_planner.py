"""The experiment planner: nnU-Net's rules on known fingerprints, and plans our engine builds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from totalseg.errors import InputError
from totalseg.models.network import build_network
from totalseg.models.plans import ModelConfig
from totalseg.training.fingerprint import Fingerprint
from totalseg.training.planner import PlannerOptions, plan_experiment, target_spacing, topology

INTENSITY = {"mean": 50.0, "std": 200.0, "median": 40.0, "min": -1000.0, "max": 1500.0,
             "percentile_00_5": -900.0, "percentile_99_5": 1200.0}
DATASET_JSON = {"channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1, "spleen": 2}}


def fingerprint(spacing, shape, n=10):
    return Fingerprint((tuple(spacing),) * n, (tuple(shape),) * n, INTENSITY)


def conf_of(plans):
    return plans["configurations"]["3d_fullres"]


def test_target_spacing():
    fp = Fingerprint(((1.0, 1.0, 2.0), (0.8, 0.8, 1.0), (1.0, 1.0, 1.5)), ((9, 9, 9),) * 3, INTENSITY)
    np.testing.assert_array_equal(target_spacing(fp, "3mm"), [3, 3, 3])
    np.testing.assert_array_equal(target_spacing(fp, "1.5mm"), [1.5, 1.5, 1.5])
    np.testing.assert_array_equal(target_spacing(fp, "auto"), [1.0, 1.0, 1.5])
    # Strongly anisotropic: the out-of-plane spacing is the 10th percentile, at least 3x the in-plane one.
    aniso = Fingerprint(tuple((0.7, 0.7, z) for z in (5.0, 5.0, 6.0, 4.0, 5.0)), ((9, 9, 9),) * 5, INTENSITY)
    np.testing.assert_allclose(target_spacing(aniso, "auto"), [0.7, 0.7, 4.4])


def test_topology_known_answers():
    iso = topology(np.array([3.0, 3.0, 3.0]), np.array([32, 32, 32]))
    assert iso.strides == [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2]]
    assert iso.kernel_sizes == [[3, 3, 3]] * 4
    # Z spacing 5 mm, in-plane 1 mm: pool in-plane only until the spacings are within 2x, 1-wide kernels.
    aniso = topology(np.array([5.0, 1.0, 1.0]), np.array([20, 160, 160]))
    assert aniso.strides[:4] == [[1, 1, 1], [1, 2, 2], [1, 2, 2], [2, 2, 2]]
    assert aniso.kernel_sizes[:3] == [[1, 3, 3], [1, 3, 3], [3, 3, 3]]
    assert len(aniso.strides) == 6  # at most 5 poolings
    np.testing.assert_array_equal(aniso.divisor, np.prod(np.array(aniso.strides), axis=0))


def test_nnunet_default_patch_at_8_gb_and_smaller_budgets():
    fp = fingerprint((1.0, 1.0, 1.0), (256, 256, 256))
    big = conf_of(plan_experiment(fp, DATASET_JSON, options=PlannerOptions(), name="D"))
    assert big["patch_size"] == [128, 128, 128] and big["batch_size"] == 2  # nnU-Net's usual plan
    assert big["batch_dice"] is True  # the patch is 1/8 of the median image
    assert big["architecture"]["arch_kwargs"]["features_per_stage"] == [32, 64, 128, 256, 320, 320]
    small = conf_of(plan_experiment(fp, DATASET_JSON, options=PlannerOptions(memory_gb=2), name="D"))
    assert np.prod(small["patch_size"]) < np.prod(big["patch_size"]) / 2
    for conf in (big, small):
        divisor = np.prod(np.array(conf["architecture"]["arch_kwargs"]["strides"]), axis=0)
        assert np.all(np.array(conf["patch_size"]) % divisor == 0)


def test_patch_clipped_to_small_images_and_batch_grows():
    fp = fingerprint((3.0, 3.0, 3.0), (40, 30, 50))
    conf = conf_of(plan_experiment(fp, DATASET_JSON, options=PlannerOptions(config="3mm"), name="D"))
    assert conf["spacing"] == [3.0, 3.0, 3.0] and conf["median_image_size_in_voxels"] == [50, 30, 40]
    assert conf["patch_size"] == [56, 32, 40]  # the median image (Z, Y, X), rounded up to the divisor
    assert conf["batch_dice"] is False
    assert conf["batch_size"] == 2  # 5 % of 10 small images is less than one patch: the minimum
    many = fingerprint((3.0, 3.0, 3.0), (40, 30, 50), n=2000)
    assert conf_of(plan_experiment(many, DATASET_JSON, options=PlannerOptions(config="3mm"), name="D"))[
        "batch_size"] > 2


def test_plans_build_and_run_in_the_engine():
    fp = fingerprint((1.5, 1.5, 1.5), (60, 50, 40))
    options = PlannerOptions(config="6mm", base_features=4, max_features=16)
    plans = plan_experiment(fp, DATASET_JSON, options=options, name="Dataset900_Test")
    config = ModelConfig.from_dicts(plans, DATASET_JSON)
    assert config.normalization == "CTNormalization" and config.num_outputs == 3
    network = build_network(config).eval()
    patch = conf_of(plans)["patch_size"]
    with torch.no_grad():
        assert network(torch.zeros(1, 1, *patch)).shape == (1, 3, *patch)
    # (X, Y, Z) = (20, 24, 30) in array order, Z rounded up to the divisor 4 of two poolings.
    options = PlannerOptions(patch_size=(20, 24, 30), batch_size=5)
    override = plan_experiment(fp, DATASET_JSON, name="D", options=options)
    assert conf_of(override)["patch_size"] == [32, 24, 20] and conf_of(override)["batch_size"] == 5


def test_bad_options():
    with pytest.raises(InputError, match="--config must be auto or one of"):
        PlannerOptions(config="2mm")
    with pytest.raises(InputError, match="must be positive"):
        PlannerOptions(memory_gb=0)
