"""Dice + CE with deep supervision: hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from totalseg.training.loss import (
    deep_supervision_loss,
    deep_supervision_weights,
    dice_ce_loss,
    downsample_targets,
)


def test_uniform_logits_known_answer():
    """Two classes, 0.5 everywhere; 2 of 8 voxels foreground: CE = ln 2, soft Dice = 2*1/(4+2) = 1/3."""
    target = torch.zeros((1, 1, 2, 2, 2), dtype=torch.uint8)
    target[0, 0, 0, 0, :] = 1
    loss = dice_ce_loss(torch.zeros((1, 2, 2, 2, 2)), target)
    assert float(loss) == pytest.approx(math.log(2) - 1 / 3, abs=1e-5)


def test_batch_dice_pools_the_samples():
    """Sample 0: 2 of 8 voxels foreground, sample 1: none. Per sample the Dice is 1/3 and ~0; pooled 2/10."""
    target = torch.zeros((2, 1, 2, 2, 2), dtype=torch.uint8)
    target[0, 0, 0, 0, :] = 1
    logits = torch.zeros((2, 2, 2, 2, 2))
    ce = math.log(2)
    assert float(dice_ce_loss(logits, target)) == pytest.approx(ce - (1 / 3 + 0) / 2, abs=1e-4)
    assert float(dice_ce_loss(logits, target, batch_dice=True)) == pytest.approx(ce - 0.2, abs=1e-5)


def test_confident_correct_prediction_is_minus_one_and_absent_classes_count_as_perfect():
    target = torch.zeros((2, 1, 4, 4, 4), dtype=torch.uint8)
    target[0, 0, :2] = 1
    target[1, 0, 2:] = 2  # sample 0 has no class 2, sample 1 no class 1
    logits = torch.nn.functional.one_hot(target[:, 0].long(), 3).movedim(-1, 1).float() * 60
    assert float(dice_ce_loss(logits, target)) == pytest.approx(-1.0, abs=1e-4)
    wrong = logits.roll(1, dims=1)
    assert float(dice_ce_loss(wrong, target)) > 10


def test_deep_supervision_weights_and_targets():
    np.testing.assert_allclose(deep_supervision_weights(4), [8 / 14, 4 / 14, 2 / 14, 0])
    np.testing.assert_allclose(deep_supervision_weights(1), [1.0])
    target = torch.arange(64, dtype=torch.uint8).reshape(1, 1, 4, 4, 4)
    full, half = downsample_targets(target, [(4, 4, 4), (2, 2, 2)])
    assert full is target
    assert half.dtype == torch.uint8 and half.flatten().tolist() == [0, 2, 8, 10, 32, 34, 40, 42]


def test_deep_supervision_loss_is_the_weighted_sum():
    torch.manual_seed(0)
    target = torch.randint(0, 3, (2, 1, 8, 8, 8), dtype=torch.uint8)
    outputs = [torch.randn(2, 3, 8, 8, 8), torch.randn(2, 3, 4, 4, 4), torch.randn(2, 3, 2, 2, 2)]
    small_targets = downsample_targets(target, [(4, 4, 4)])
    expected = 2 / 3 * dice_ce_loss(outputs[0], target) + 1 / 3 * dice_ce_loss(outputs[1], small_targets[0])
    assert float(deep_supervision_loss(outputs, target)) == pytest.approx(float(expected), rel=1e-6)


def test_docstring_examples_run():
    import doctest

    from totalseg.training import loss, phantom

    for module in (loss, phantom):
        assert doctest.testmod(module, raise_on_error=False).failed == 0
