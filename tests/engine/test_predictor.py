"""The slab-streamed predictor against a direct transcription of nnU-Net's whole-volume loop."""

import numpy as np
import pytest
import torch

from totalseg.engine.gaussian import importance_map
from totalseg.engine.grid import tile_grid
from totalseg.engine.predictor import SlidingWindowPredictor, _add_weighted_whole, add_weighted, first_argmax
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


@pytest.fixture(scope="module")
def few_classes():
    """A 6-class network of the same tiny layout, for patches of the real models' size."""
    spec = get_task("total", "fast").models[0]
    plans = legacy_plans(spec, TINY, modality="ct")
    dataset = {"channel_names": {"0": "CT"}, "labels": {"background": 0, **{f"c{i}": i for i in range(1, 6)}}}
    net = build_network(ModelConfig.from_dicts(plans, dataset))
    randomize(net, seed=5)
    return net.eval()


@torch.inference_mode()
def nnunet_logits(network, image, patch, step):
    """nnU-Net 2.8.1 _internal_predict_sliding_window_return_logits, CPU, no mirroring."""
    classes = network.decoder.seg_layers[-1].out_channels
    logits = torch.zeros((classes, *image.shape[1:]), dtype=torch.half)
    counts = torch.zeros(image.shape[1:], dtype=torch.half)
    gauss = importance_map(patch)
    for tile in tile_grid(tuple(image.shape[1:]), patch, step):
        sl = (slice(None), *tile)
        pred = network(torch.clone(image[sl][None], memory_format=torch.contiguous_format))[0]
        pred *= gauss
        logits[sl] += pred
        counts[sl[1:]] += gauss
    torch.div(logits, counts, out=logits)
    return logits


def nnunet_reference(network, image, patch, step):
    return nnunet_logits(network, image, patch, step).numpy().argmax(0).astype(np.uint8)


@pytest.mark.parametrize("shape", [(1, 70, 45, 40), (1, 33, 64, 32), (1, 96, 40, 50)])
def test_streamed_slabs_equal_whole_volume_accumulation(network, shape):
    image = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    predictor = SlidingWindowPredictor(network, (32, 32, 32), step=0.8)
    ours = predictor.predict(image)
    ref = nnunet_reference(network, image, (32, 32, 32), 0.8)
    assert ours.dtype == np.uint8 and ours.shape == shape[1:]
    assert np.array_equal(ours, ref)
    assert len(np.unique(ours)) > 5  # random weights give many classes, so the test has teeth


@pytest.mark.parametrize("shape, patch, step", [
    ((1, 50, 61, 45), (16, 24, 40), 0.5),        # non-cubic patch, every axis tiled
    ((1, 130, 118, 140), (112, 112, 128), 0.8),  # the 3 mm models' patch, 2 x 2 x 2 tiles
    ((1, 150, 128, 131), (128, 128, 128), 0.5),  # the 1.5 mm models' patch
])
def test_patch_shapes_and_sizes_of_the_real_models(few_classes, shape, patch, step):
    image = torch.randn(shape, generator=torch.Generator().manual_seed(4))
    predictor = SlidingWindowPredictor(few_classes, patch, step=step)
    reference = nnunet_logits(few_classes, image, patch, step)
    assert np.array_equal(predictor.predict(image), reference.numpy().argmax(0).astype(np.uint8))
    assert torch.equal(predictor.predict_logits(image), reference)  # the fp16 logits, bit for bit


def test_small_images_are_padded_and_cropped_back(network):
    image = torch.randn((1, 20, 40, 9), generator=torch.Generator().manual_seed(2))
    predictor = SlidingWindowPredictor(network, (32, 32, 32), step=0.5)
    ours = predictor.predict(image)
    padded = torch.nn.functional.pad(image, (11, 12, 0, 0, 6, 6))  # centred, extra after
    logits = nnunet_logits(network, padded, (32, 32, 32), 0.5)[:, 6:26, 0:40, 11:20]
    assert ours.shape == (20, 40, 9)
    assert np.array_equal(ours, logits.numpy().argmax(0).astype(np.uint8))
    assert torch.equal(predictor.predict_logits(image), logits)


def test_fp32_precision_is_close_but_separate(network):
    image = torch.randn((1, 70, 45, 40), generator=torch.Generator().manual_seed(1))
    exact = SlidingWindowPredictor(network, (32, 32, 32), step=0.8).predict(image)
    fp32 = SlidingWindowPredictor(network, (32, 32, 32), step=0.8, precision="fp32").predict(image)
    assert (exact == fp32).mean() > 0.97


@pytest.mark.parametrize("shape", [(70, 45, 40), (20, 45, 33), (16, 16, 16)])
def test_tile_callback_counts_tiles(network, shape):
    calls = []
    predictor = SlidingWindowPredictor(network, (32, 32, 32), step=0.8)
    predictor.predict(torch.zeros((1, *shape)), on_tile=lambda: calls.append(1))
    padded = tuple(max(s, 32) for s in shape)  # axes shorter than the patch are padded to it
    assert len(calls) == len(tile_grid(padded, (32, 32, 32), 0.8)) == predictor.tile_count(shape)


def test_bf16_precision_runs_the_network_in_bfloat16(network):
    image = torch.randn((1, 70, 45, 40), generator=torch.Generator().manual_seed(1))
    seen = []
    hook = network.decoder.seg_layers[-1].register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    try:
        exact = SlidingWindowPredictor(network, (32, 32, 32), step=0.8).predict(image)
        bf16 = SlidingWindowPredictor(network, (32, 32, 32), step=0.8, precision="bf16").predict(image)
    finally:
        hook.remove()
    n_tiles = len(tile_grid((70, 45, 40), (32, 32, 32), 0.8))
    assert seen == [torch.float32] * n_tiles + [torch.bfloat16] * n_tiles
    # random weights leave many near-ties, the worst case for a lower precision: close, not equal
    assert 0.8 < (exact == bf16).mean() < 1


def test_unknown_precision_rejected(network):
    with pytest.raises(ValueError, match="precision"):
        SlidingWindowPredictor(network, (32, 32, 32), precision="fp8")


class _Constant(torch.nn.Module):
    """Logits of one class set to ``value`` everywhere (to drive the inf check)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros((x.shape[0], 3, *x.shape[2:]))
        out[:, 1] = self.value
        return out


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), 60000.0, -60000.0])
def test_inf_anywhere_in_the_blended_logits_is_an_error(value, monkeypatch):
    """nnU-Net raises on any inf in the blended logits, a losing -inf class included, and on sums
    that overflow fp16 (|x| > 65504) either way."""
    monkeypatch.setattr(SlidingWindowPredictor, "network_outputs", property(lambda self: 3))
    predictor = SlidingWindowPredictor(_Constant(value), (8, 8, 8), step=0.5)
    image = torch.zeros((1, 12, 12, 12))
    with pytest.raises(FloatingPointError, match="precision='fp32'"):
        predictor.predict(image)
    with pytest.raises(FloatingPointError, match="precision='fp32'"):
        predictor.predict_logits(image)


@pytest.mark.parametrize(
    "acc_dtype, logits_dtype, gauss_dtype",
    [
        (torch.float16, torch.float32, torch.float16),  # nnU-Net on CPU
        (torch.float16, torch.float16, torch.float16),  # nnU-Net on a GPU (autocast logits)
        (torch.float32, torch.float32, torch.float32),  # precision="fp32"
    ],
)
def test_weighted_add_gives_the_bits_of_nnunets_two_steps(acc_dtype, logits_dtype, gauss_dtype):
    gen = torch.Generator().manual_seed(4)
    # 21 channels and 9 planes: partial last blocks on both blocked axes
    acc = (torch.randn((21, 9, 10, 12), generator=gen) * 30).to(acc_dtype)
    logits = (torch.randn((21, 9, 6, 12), generator=gen) * 30).to(logits_dtype)
    gauss = (torch.rand((9, 6, 12), generator=gen) * 10).to(gauss_dtype)
    expected = acc.clone()
    prediction = logits.clone()
    prediction *= gauss  # nnU-Net: prediction *= gaussian; predicted_logits[sl] += prediction
    expected[:, :, 2:8] += prediction
    bits = torch.int16 if acc_dtype == torch.float16 else torch.int32
    for add in (lambda t, x, g: add_weighted(t, x, g, channels=4, planes=4), _add_weighted_whole):
        got = acc.clone()  # the blocked CPU path, and the whole-tile path other devices take
        add(got[:, :, 2:8], logits.clone(), gauss)
        assert torch.equal(got.view(bits), expected.view(bits))


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
