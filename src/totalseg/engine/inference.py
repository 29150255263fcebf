"""One model on one image, as nnU-Net's predictor runs it (``nnUNetPredictor``, no mirroring).

preprocess (transpose, crop to non-zero, normalize, resample to the plans spacing) -> sliding
window with each fold -> [logits averaged over folds, resampled back to the cropped grid] ->
argmax -> uncrop -> transpose back. Where nothing is resampled and there is one fold (the official
TotalSegmentator models), the predictor arg-maxes each slab as soon as it is final and the
full-volume logits never exist; otherwise they are kept in fp16, as nnU-Net keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from totalseg.engine.predictor import SlidingWindowPredictor
from totalseg.engine.preprocess import Preprocessed, logits_to_labels, preprocess, restore
from totalseg.engine.probabilities import export_probabilities
from totalseg.engine.resampling import resample
from totalseg.imaging.layout import c_contiguous
from totalseg.models.model import Model


class TileProgress(Protocol):
    """What a run reports as it goes: each sliding-window pass as it starts, then each tile."""

    def begin(self, what: str, tiles: int) -> None:
        """A pass of ``tiles`` tiles starts; ``what`` names it (``total fast``, ``total part 2/5``)."""

    def tile(self) -> None:
        """One more tile of the pass is predicted."""


def predict_image(
    image: np.ndarray,
    spacing: Sequence[float],
    model: Model,
    *,
    step: float,
    precision: str = "nnunet",
    progress: TileProgress | None = None,
    what: str = "",
    cropped_logits: bool = False,
) -> np.ndarray:
    """Labels (network output channels, uint8 or uint16) of ``image``, on its own grid.

    Args:
        image: (Z, Y, X) as the model's reader hands it to nnU-Net (see ``models.readers``).
        spacing: voxel size in mm in the same order.
        model: the loaded model; all its folds are used and their logits averaged.
        step: sliding-window tile step as a fraction of the patch (nnU-Net's default 0.5).
        precision: see :class:`~totalseg.engine.predictor.SlidingWindowPredictor`.
        progress: told about the pass (all folds' tiles) and each tile.
        what: the pass's name for ``progress``.
        cropped_logits: resample the logits back as the official ``--higher_order_resampling``
            does (``engine.cropped_export``) instead of nnU-Net's full export.
    """
    pre, predictor, on_tile = _prepared(image, spacing, model, step, precision, progress, what)
    if model.num_folds == 1 and not pre.resampled:
        labels = predictor.predict(pre.data, on_tile=on_tile)
    else:
        labels = _labels_from_logits(predictor, model, pre, on_tile, cropped=cropped_logits)
    return restore(labels, pre, model.config)


def predict_image_probabilities(
    image: np.ndarray,
    spacing: Sequence[float],
    model: Model,
    *,
    step: float,
    precision: str = "nnunet",
    progress: TileProgress | None = None,
    what: str = "",
) -> tuple[np.ndarray, np.ndarray, Preprocessed]:
    """Labels, softmax probabilities and the preprocessing of ``image``, as nnU-Net's export with
    ``save_probabilities`` (``engine.probabilities``); arguments as :func:`predict_image`.

    The labels are the argmax of the probabilities (nnU-Net's path when it saves them); the
    probabilities are (classes, *reader grid*) float32.
    """
    pre, predictor, on_tile = _prepared(image, spacing, model, step, precision, progress, what)
    logits = _fold_logits(predictor, model, pre, on_tile)
    back = resample(logits, pre.cropped_shape, model.config.spacing, pre.spacing, model.config.logits_resampling)
    probabilities = export_probabilities(back, pre, model.config.transpose_backward)
    labels = probabilities.argmax(0).astype(np.uint8 if probabilities.shape[0] <= 255 else np.uint16)
    return c_contiguous(labels), probabilities, pre


def _prepared(image, spacing, model: Model, step: float, precision: str, progress: TileProgress | None, what: str):
    """The preprocessed image, its predictor and the per-tile callback; the pass announced to ``progress``."""
    pre = preprocess(image, spacing, model.config)
    predictor = SlidingWindowPredictor(model.network, model.config.patch_size, step=step, device=model.device,
                                       precision=precision)
    if progress is not None:
        progress.begin(what, predictor.tile_count(tuple(pre.data.shape[1:])) * model.num_folds)
    return pre, predictor, (progress.tile if progress is not None else None)


def _labels_from_logits(predictor: SlidingWindowPredictor, model: Model, pre: Preprocessed, on_tile, *,
                        cropped: bool = False) -> np.ndarray:
    """nnU-Net's path: the folds' logits resampled back and arg-maxed."""
    logits = _fold_logits(predictor, model, pre, on_tile)
    return logits_to_labels(logits, pre, model.config, cropped=cropped)


@torch.inference_mode()  # the predictor's logits are inference tensors: sum them in the same mode
def _fold_logits(predictor: SlidingWindowPredictor, model: Model, pre: Preprocessed, on_tile) -> np.ndarray:
    """The folds' logits on the network grid, summed and divided in their own dtype as nnU-Net's."""
    total = None
    for _ in model.each_fold():  # the predictor's network, with each fold's weights in turn
        logits = predictor.predict_logits(pre.data, on_tile=on_tile)
        total = logits if total is None else total.add_(logits)
    if model.num_folds > 1:
        total /= model.num_folds
    return total.numpy()
