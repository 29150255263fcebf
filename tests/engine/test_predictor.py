"""The slab-streamed predictor against a direct transcription of nnU-Net's whole-volume loop."""

import numpy as np
import pytest
import torch

from totalseg.engine.gaussian import importance_map
from totalseg.engine.grid import tile_grid
from totalseg.engine.predictor import SlidingWindowPredictor, _add_by_channels, first_argmax
from totalseg.models.network import build_network
from totalseg.models.plans import ModelConfig
from totalseg.models.synthetic import TINY, dataset_json, legacy_plans, randomize
from totalseg.models.tasks import get_task


@pytest.fixture(scope="module")
def network():
    spec = get_task("total", "fast").models[0]
    plans, dataset = legacy_plans(spec, TINY, modality="ct"), dataset_json(spec, modality="ct")
    net = build_network(ModelConfig.from_dicts(plans, dataset))
    randomize(net, seed=3)
    return net.eval()


@torch.inference_mode()
def nnunet_reference(network, image, patch, step):
    """nnU-Net 2.8.1 _internal_predict_sliding_window_return_logits, CPU, no mirroring."""
    logits = torch.zeros((118, *image.shape[1:]), dtype=torch.half)
    counts = torch.zeros(image.shape[1:], dtype=torch.half)
    gauss = importance_map(patch)
    for tile in tile_grid(tuple(image.shape[1:]), patch, step):
        sl = (slice(None), *tile)
        pred = network(torch.clone(image[sl][None], memory_format=torch.contiguous_format))[0]
        pred *= gauss
        logits[sl] += pred
        counts[sl[1:]] += gauss
    torch.div(logits, counts, out=logits)
    return logits.numpy().argmax(0).astype(np.uint8)


@pytest.mark.parametrize("shape", [(1, 70, 45, 40), (1, 33, 64, 32), (1, 96, 40, 50)])
def test_streamed_slabs_equal_whole_volume_accumulation(network, shape):
    image = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    predictor = SlidingWindowPredictor(network, (32, 32, 32), step=0.8)
    ours = predictor.predict(image)
    ref = nnunet_reference(network, image, (32, 32, 32), 0.8)
    assert ours.dtype == np.uint8 and ours.shape == shape[1:]
    assert np.array_equal(ours, ref)
    assert len(np.unique(ours)) > 5  # random weights give many classes, so the test has teeth


def test_small_images_are_padded_and_cropped_back(network):
    image = torch.randn((1, 20, 40, 9), generator=torch.Generator().manual_seed(2))
    predictor = SlidingWindowPredictor(network, (32, 32, 32), step=0.5)
    ours = predictor.predict(image)
    padded = torch.nn.functional.pad(image, (11, 12, 0, 0, 6, 6))  # centred, extra after
    ref = nnunet_reference(network, padded, (32, 32, 32), 0.5)[6:26, 0:40, 11:20]
    assert ours.shape == (20, 40, 9)
    assert np.array_equal(ours, ref)


def test_fp32_precision_is_close_but_separate(network):
    image = torch.randn((1, 70, 45, 40), generator=torch.Generator().manual_seed(1))
    exact = SlidingWindowPredictor(network, (32, 32, 32), step=0.8).predict(image)
    fp32 = SlidingWindowPredictor(network, (32, 32, 32), step=0.8, precision="fp32").predict(image)
    assert (exact == fp32).mean() > 0.97


def test_tile_callback_counts_tiles(network):
    calls = []
    SlidingWindowPredictor(network, (32, 32, 32), step=0.8).predict(
        torch.zeros((1, 70, 45, 40)), on_tile=lambda: calls.append(1)
    )
    assert len(calls) == len(tile_grid((70, 45, 40), (32, 32, 32), 0.8))


def test_unknown_precision_rejected(network):
    with pytest.raises(ValueError, match="precision"):
        SlidingWindowPredictor(network, (32, 32, 32), precision="bf16")


class _Constant(torch.nn.Module):
    """Logits of one class set to ``value`` everywhere (to drive the inf check)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros((x.shape[0], 3, *x.shape[2:]))
        out[:, 1] = self.value
        return out


@pytest.mark.parametrize("value, expected", [(float("inf"), None), (float("-inf"), 0), (60000.0, None)])
def test_inf_in_the_winning_logits_is_an_error(value, expected, monkeypatch):
    monkeypatch.setattr(SlidingWindowPredictor, "network_outputs", property(lambda self: 3))
    predictor = SlidingWindowPredictor(_Constant(value), (8, 8, 8), step=0.5)
    image = torch.zeros((1, 12, 12, 12))
    if expected is None:  # +inf, or a sum that overflows fp16 (65504), wins the max: nnU-Net raises too
        with pytest.raises(FloatingPointError, match="precision='fp32'"):
            predictor.predict(image)
    else:  # a -inf class can never win: labels as argmax gives them
        assert (predictor.predict(image) == expected).all()


def test_chunked_add_gives_the_bits_of_the_mixed_dtype_add():
    gen = torch.Generator().manual_seed(4)
    acc = (torch.randn((21, 9, 10, 12), generator=gen) * 30).half()  # 21 channels: a partial last chunk
    logits = torch.randn((21, 9, 6, 12), generator=gen) * 30
    expected = acc.clone()
    expected[:, :, 2:8] += logits  # nnU-Net's add into a tile's window of the accumulator
    _add_by_channels(acc[:, :, 2:8], logits)
    assert torch.equal(acc, expected)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32])
def test_first_argmax_equals_argmax_with_ties(dtype):
    gen = torch.Generator().manual_seed(5)
    # 37 channels (a partial last chunk) of coarsely rounded values: many voxels tie for the max
    logits = (torch.randn((37, 6, 7, 9), generator=gen) * 2).round().to(dtype)
    best = logits.amax(0)
    assert ((logits == best).sum(0) > 1).float().mean() > 0.2  # the ties are there
    assert torch.equal(first_argmax(logits, best).long(), logits.argmax(0))


def test_first_argmax_leaves_nan_and_many_channels_to_argmax():
    gen = torch.Generator().manual_seed(6)
    logits = torch.randn((5, 4, 4), generator=gen)
    logits[3, 1, 2] = float("nan")
    assert first_argmax(logits, logits.amax(0))[1, 2] == 3  # argmax picks the NaN, as in nnU-Net
    wide = torch.randn((300, 3, 4), generator=gen).half()
    assert torch.equal(first_argmax(wide, wide.amax(0)).long(), wide.argmax(0))
