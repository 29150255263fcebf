"""Sliding-window inference that reproduces nnU-Net's arithmetic, one slab of tiles at a time.

nnU-Net visits tiles with the first array axis outermost. Once every tile of one start offset
along that axis is done, the voxels before the next offset never change again: they are divided,
arg-maxed and released. Memory is classes x patch-thick slab instead of classes x volume, and
each voxel still sums the same tiles in the same order, so the labels are nnU-Net's.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from totalseg.engine import grid
from totalseg.engine.forward import forward_lean
from totalseg.engine.gaussian import importance_map
from totalseg.engine.heap import release_freed_memory
from totalseg.engine.precision import PRECISIONS


class NetworkClock:
    """Wall seconds this process has spent in network forward passes, and how many passes.

    The predictor's one call into the network adds to :data:`network_clock`; ``totalseg segment -v``
    reports it beside the run's total, and the speed benchmark divides the two.
    """

    def __init__(self) -> None:
        self.seconds, self.passes = 0.0, 0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self.seconds += seconds
            self.passes += 1


network_clock = NetworkClock()


@dataclass
class SlidingWindowPredictor:
    """Predicts a label map from a preprocessed image with one network.

    Attributes:
        network: the segmentation network, in eval mode, on ``device``.
        patch_size: tile size in array order.
        step: tile step as a fraction of the patch (0.8 for TotalSegmentator's total tasks).
        device: where the network runs; accumulation happens there too.
        precision: ``"nnunet"`` accumulates in fp16 exactly as nnU-Net does (identical masks);
            ``"fp32"`` accumulates in fp32 (more precise, not bit-identical to the official tool);
            ``"bf16"`` runs the network in bfloat16 (autocast) and accumulates in fp32: about
            twice as fast on CPUs with AVX-512 BF16 or AMX, masks close to but not identical to
            the official tool's (docs/benchmarks.md measures the Dice cost).
    """

    network: nn.Module
    patch_size: tuple[int, ...]
    step: float = 0.5
    device: torch.device = torch.device("cpu")
    precision: str = "nnunet"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    @property
    def _acc_dtype(self) -> torch.dtype:
        return torch.float16 if self.precision == "nnunet" else torch.float32

    def tile_count(self, spatial: tuple[int, ...]) -> int:
        """How many tiles :meth:`predict` runs on an image of this spatial shape.

        Examples:
            >>> predictor = SlidingWindowPredictor(nn.Identity(), (64, 64, 64), step=0.5)
            >>> predictor.tile_count((100, 100, 30))  # 3 x 3 x 1 (the short axis is padded to the patch)
            9
        """
        return grid.tile_count(spatial, self.patch_size, self.step)

    @torch.inference_mode()
    def predict(self, image: torch.Tensor, on_tile: Callable[[], None] | None = None) -> np.ndarray:
        """Label map (uint8, or uint16 past 254 classes) of ``image`` (C, *spatial) float32."""
        padded, unpad = _pad_to_patch(image, self.patch_size)
        labels = None
        for start, logits, best in self._blended_slabs(padded, on_tile):
            slab = self._labels(logits, best)
            if labels is None:
                labels = np.zeros(tuple(padded.shape[1:]), dtype=slab.dtype)
            labels[start : start + slab.shape[0]] = slab
        release_freed_memory()  # what the tiles kept for each other, before the outputs are written
        return labels[unpad]

    @torch.inference_mode()
    def predict_logits(self, image: torch.Tensor, on_tile: Callable[[], None] | None = None) -> torch.Tensor:
        """The blended logits (classes, *spatial) of ``image`` on the CPU, in the accumulator dtype
        (fp16 for ``precision="nnunet"``, as nnU-Net returns them): for models whose logits are
        resampled back to the image grid or averaged over folds before the argmax."""
        padded, unpad = _pad_to_patch(image, self.patch_size)
        out = torch.empty((self.network_outputs, *padded.shape[1:]), dtype=self._acc_dtype)
        for start, logits, _ in self._blended_slabs(padded, on_tile):
            out[:, start : start + logits.shape[1]] = logits
        release_freed_memory()
        return out[(slice(None), *unpad)]

    def _blended_slabs(self, padded: torch.Tensor, on_tile):
        """``(start, logits, best)`` for each run of voxels along the first axis whose tiles are all
        done: the Gaussian-weighted sum divided by the weights, checked for inf as nnU-Net checks it,
        and its maximum over the classes.

        Only the overlap with the next slab is kept (a compact copy), so each slab's buffers go.
        """
        spatial = tuple(padded.shape[1:])
        starts = [grid.tile_starts(s, p, self.step) for s, p in zip(spatial, self.patch_size)]
        gauss = importance_map(self.patch_size, dtype=self._acc_dtype).to(self.device)
        padded = padded.to(self.device)
        carry = None
        for k, start0 in enumerate(starts[0]):
            acc, weight = self._accumulate_slab(padded, start0, starts[1:], carry, gauss, on_tile)
            end = starts[0][k + 1] - start0 if k + 1 < len(starts[0]) else self.patch_size[0]
            logits = acc[:, :end].div_(weight[:end])  # in place: this part of the slab is final
            best = _checked_max(logits)
            yield start0, logits, best
            carry = (acc[:, end:].clone(), weight[end:].clone())
            del acc, weight, logits, best

    def _accumulate_slab(self, padded, start0, row_starts, carry, gauss, on_tile):
        """Gaussian-weighted logits and weights of every tile starting at ``start0`` on the first axis.

        The buffers are allocated after the first tile's forward pass, so they are not held while
        the network is at its peak memory.
        """
        acc = weight = None
        for tile in _row_tiles(row_starts, self.patch_size):
            logits = self._run(padded[(slice(None), slice(start0, start0 + self.patch_size[0]), *tile)])
            if acc is None:
                acc, weight = self._slab_buffers(tuple(padded.shape[1:]), carry)
            add_weighted(acc[(slice(None), slice(None), *tile)], logits, gauss)
            weight[(slice(None), *tile)] += gauss
            if on_tile is not None:
                on_tile()
        return acc, weight

    def _slab_buffers(self, spatial, carry):
        num_classes = self.network_outputs
        shape = (self.patch_size[0], *spatial[1:])
        acc = torch.zeros((num_classes, *shape), dtype=self._acc_dtype, device=self.device)
        weight = torch.zeros(shape, dtype=self._acc_dtype, device=self.device)
        if carry is not None:
            kept = carry[1].shape[0]
            acc[:, :kept] = carry[0]
            weight[:kept] = carry[1]
        return acc, weight

    @property
    def network_outputs(self) -> int:
        return int(self.network.decoder.seg_layers[-1].out_channels)

    def _run(self, tile: torch.Tensor) -> torch.Tensor:
        batch = torch.clone(tile[None], memory_format=torch.contiguous_format)
        start = time.perf_counter()
        with self._autocast():
            logits = forward_lean(self.network, batch)[0]
        if self.device.type == "cuda":  # kernels run asynchronously: the clock waits for them
            torch.cuda.synchronize(self.device)
        network_clock.add(time.perf_counter() - start)
        return logits

    def _autocast(self) -> contextlib.AbstractContextManager:
        """bfloat16 when asked for; otherwise nnU-Net's choice: fp16 autocast on CUDA, fp32 elsewhere."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        if self.device.type == "cuda":
            return torch.autocast(self.device.type, enabled=True)
        return contextlib.nullcontext()

    def _labels(self, logits: torch.Tensor, best: torch.Tensor) -> np.ndarray:
        labels = first_argmax(logits, best)
        return labels.cpu().numpy().astype(np.uint8 if logits.shape[0] <= 255 else np.uint16)


def _checked_max(logits: torch.Tensor) -> torch.Tensor:
    """The maximum over the classes; nnU-Net refuses blended logits with an inf anywhere (+inf or
    -inf, any class), so does this."""
    best = logits.amax(dim=0)
    # aminmax over the classes is 10x slower than amax on CPU for fp16; one scalar amin finds a -inf
    if torch.isinf(best).any() or torch.isinf(logits.amin()):
        raise FloatingPointError("inf in the blended logits; run with precision='fp32'")
    return best


def first_argmax(logits: torch.Tensor, best: torch.Tensor, channels: int = 16) -> torch.Tensor:
    """``logits.argmax(0)`` given ``best = logits.amax(0)``: the first channel that holds the max.

    On CPU, PyTorch's indexed reductions over the channel axis (argmax, max with indices) are
    slow for fp16: 0.40 s for 118 x 96 x 128 x 128, against 0.04 s for amax. Here each channel
    equal to the max gets the rank ``n - c`` (earlier channels rank higher) and a running amax of
    the ranks names the first maximal channel: about 0.1 s, the same labels, ties included.
    Logits with a NaN go to PyTorch's argmax (which picks the NaN, as nnU-Net's does), and so do
    more than 255 channels (the ranks are uint8).

    Examples:
        >>> x = torch.tensor([[1.0, 3.0], [3.0, 3.0], [2.0, 0.0]])
        >>> first_argmax(x, x.amax(0)).tolist()
        [1, 0]
    """
    n = logits.shape[0]
    if n > 255 or torch.isnan(best).any():
        return logits.argmax(dim=0)
    rank = torch.arange(n, 0, -1, dtype=torch.uint8, device=logits.device).view(-1, *[1] * best.dim())
    top = torch.zeros(best.shape, dtype=torch.uint8, device=logits.device)
    hits = torch.empty((min(channels, n), *best.shape), dtype=torch.uint8, device=logits.device)
    for c in range(0, n, channels):
        hit = hits[: min(channels, n - c)]
        torch.eq(logits[c : c + channels], best, out=hit.view(torch.bool))
        hit *= rank[c : c + channels]
        torch.maximum(top, hit.amax(dim=0), out=top)
    return n - top


def add_weighted(target: torch.Tensor, logits: torch.Tensor, gauss: torch.Tensor,
                 channels: int = 4, planes: int = 8) -> None:
    """``target += logits * gauss`` with nnU-Net's roundings.

    nnU-Net runs ``logits *= gauss`` and then ``acc += logits``. On a CPU (fp32 logits, fp16
    weights and accumulator) PyTorch computes that add by widening each element to fp32, adding
    and rounding once, through a slow per-element cast path and full-size temporaries. There each
    block of ``channels`` x ``planes`` is multiplied into an fp32 buffer, the widened accumulator
    added to it (the same sum: addition commutes) and the result rounded back with ``copy_``: the
    same bits, one pass over the logits instead of three, and a buffer small enough to stay in
    cache (0.11 -> 0.07 s per 118-channel 112 x 112 x 128 tile). On other devices the blocks
    would only multiply the kernel launches: the two steps run whole.

    Examples:
        >>> acc = torch.zeros((2, 3, 3), dtype=torch.float16)
        >>> add_weighted(acc, torch.ones((2, 3, 3)), torch.full((3, 3), 0.5, dtype=torch.float16))
        >>> acc[0, 0].tolist()
        [0.5, 0.5, 0.5]
    """
    if logits.device.type != "cpu":
        _add_weighted_whole(target, logits, gauss)
        return
    shape = (min(channels, logits.shape[0]), min(planes, logits.shape[1]), *logits.shape[2:])
    buffer = torch.empty(shape, dtype=torch.promote_types(logits.dtype, gauss.dtype), device=logits.device)
    for c in range(0, logits.shape[0], channels):
        for z in range(0, logits.shape[1], planes):
            block = (slice(c, c + channels), slice(z, z + planes))
            out = buffer[: min(channels, logits.shape[0] - c), : min(planes, logits.shape[1] - z)]
            torch.mul(logits[block], gauss[z : z + planes], out=out)
            out += target[block]
            target[block].copy_(out)


def _add_weighted_whole(target: torch.Tensor, logits: torch.Tensor, gauss: torch.Tensor) -> None:
    """nnU-Net's two steps over the whole tile; the product in place when its dtype is the logits'
    (fp16 autocast logits on a GPU), else in a temporary (bf16 logits, fp32 weights)."""
    if torch.promote_types(logits.dtype, gauss.dtype) == logits.dtype:
        target += logits.mul_(gauss)
    else:
        target += logits * gauss


def _row_tiles(starts: list[list[int]], patch: tuple[int, ...]):
    """Tiles over the trailing axes, in nnU-Net's nested order."""
    for origin in itertools.product(*starts):
        yield tuple(slice(o, o + p) for o, p in zip(origin, patch[1:]))


def _pad_to_patch(image: torch.Tensor, patch: tuple[int, ...]) -> tuple[torch.Tensor, tuple[slice, ...]]:
    """Zero-pad axes shorter than the patch, content centred (odd extra padding goes after)."""
    pads_before, pads_after, unpad = [], [], []
    for size, p in zip(image.shape[1:], patch):
        extra = max(p - size, 0)
        before = extra // 2
        pads_before.append(before)
        pads_after.append(extra - before)
        unpad.append(slice(before, before + size))
    if not any(pads_before) and not any(pads_after):
        return image, tuple(unpad)
    torch_pad = [v for b, a in zip(reversed(pads_before), reversed(pads_after)) for v in (b, a)]
    return torch.nn.functional.pad(image, torch_pad, mode="constant", value=0), tuple(unpad)
