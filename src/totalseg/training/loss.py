"""nnU-Net's training loss: soft Dice (foreground classes, per sample) + cross-entropy, summed over
the deep-supervision outputs with weights 1, 1/2, 1/4, ... (the lowest resolution weighted 0),
normalised to sum to 1."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

SMOOTH = 1e-5


def dice_ce_loss(logits: torch.Tensor, target: torch.Tensor, *, batch_dice: bool = False) -> torch.Tensor:
    """Soft Dice loss (negative mean foreground Dice) + cross-entropy.

    Args:
        logits: (B, C, *spatial) network output.
        target: (B, 1, *spatial) integer labels.
        batch_dice: Dice over the whole batch as one volume (the plans' ``batch_dice``), else per sample.
    """
    labels = target[:, 0].long()
    ce = F.cross_entropy(logits, labels)
    probs = torch.softmax(logits.float(), dim=1)[:, 1:]
    onehot = F.one_hot(labels, logits.shape[1]).movedim(-1, 1)[:, 1:].to(probs.dtype)
    axes = tuple(range(0 if batch_dice else 2, logits.ndim))
    axes = tuple(a for a in axes if a != 1)
    intersect = (probs * onehot).sum(axes)
    denominator = probs.sum(axes) + onehot.sum(axes)
    dice = (2 * intersect + SMOOTH) / torch.clamp(denominator + SMOOTH, min=1e-8)
    return ce - dice.mean()


def deep_supervision_weights(n_outputs: int) -> np.ndarray:
    """1, 1/2, 1/4, ... with the last (lowest resolution) output weighted 0, normalised.

    Examples:
        >>> deep_supervision_weights(3).round(4).tolist()
        [0.6667, 0.3333, 0.0]
    """
    weights = np.array([1 / 2**i for i in range(n_outputs)])
    if n_outputs > 1:
        weights[-1] = 0
    return weights / weights.sum()


def downsample_targets(target: torch.Tensor, shapes: Sequence[Sequence[int]]) -> list[torch.Tensor]:
    """The labels at each output's resolution (nearest neighbour)."""
    out = []
    for shape in shapes:
        if tuple(shape) == tuple(target.shape[2:]):
            out.append(target)
        else:
            out.append(F.interpolate(target.float(), size=tuple(shape), mode="nearest").to(target.dtype))
    return out


def deep_supervision_loss(
    outputs: Sequence[torch.Tensor], target: torch.Tensor, *, batch_dice: bool = False
) -> torch.Tensor:
    """Weighted Dice + CE over all outputs (full resolution first) against downsampled labels."""
    weights = deep_supervision_weights(len(outputs))
    targets = downsample_targets(target, [o.shape[2:] for o in outputs])
    total = outputs[0].new_zeros((), dtype=torch.float32)
    for w, out, tgt in zip(weights, outputs, targets):
        if w > 0:
            total = total + float(w) * dice_ce_loss(out, tgt, batch_dice=batch_dice)
    return total


def amp_dtype(device: torch.device) -> torch.dtype:
    """The autocast dtype of mixed-precision training on ``device``: fp16 on CUDA (nnU-Net's AMP),
    bf16 on the CPU."""
    return torch.bfloat16 if device.type == "cpu" else torch.float16


def outputs_and_loss(network: torch.nn.Module, image: torch.Tensor, seg: torch.Tensor, *, amp: bool,
                     batch_dice: bool = False) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The deep-supervision outputs of ``network`` and their :func:`deep_supervision_loss`, under
    autocast when ``amp`` (:func:`amp_dtype`); on the CPU the loss is taken in fp32 on the outputs
    cast back. The trainer's step and validation and the speed measurement all use it.

    Examples:
        >>> net = torch.nn.Conv3d(1, 2, 1)
        >>> outputs, loss = outputs_and_loss(lambda x: [net(x)], torch.zeros(1, 1, 4, 4, 4),
        ...                                  torch.zeros(1, 1, 4, 4, 4), amp=True)
        >>> outputs[0].dtype, loss.dtype
        (torch.float32, torch.float32)
    """
    with torch.autocast(image.device.type, dtype=amp_dtype(image.device), enabled=amp):
        outputs = network(image)
        if image.device.type != "cpu":
            return outputs, deep_supervision_loss(outputs, seg, batch_dice=batch_dice)
    outputs = [o.float() for o in outputs]
    return outputs, deep_supervision_loss(outputs, seg, batch_dice=batch_dice)
