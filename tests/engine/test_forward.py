"""The lean inference forward pass: the network's own result, without holding the skips."""

import weakref

import pytest
import torch
from dynamic_network_architectures.architectures.unet import ResidualEncoderUNet
from torch import nn

from totalseg.engine import forward
from totalseg.engine.forward import forward_lean
from totalseg.models.network import build_network
from totalseg.models.plans import ModelConfig
from totalseg.models.synthetic import TINY, dataset_json, legacy_plans, randomize
from totalseg.models.tasks import get_task


def plain_unet() -> nn.Module:
    spec = get_task("total", "fast").models[0]
    plans, dataset = legacy_plans(spec, TINY, modality="ct"), dataset_json(spec, modality="ct")
    net = build_network(ModelConfig.from_dicts(plans, dataset))
    randomize(net, seed=5)
    return net.eval()


def residual_unet() -> nn.Module:
    net = ResidualEncoderUNet(1, 3, (8, 16, 32), nn.Conv3d, 3, (1, 2, 2), (1, 2, 2), 7, (1, 1), False,
                              nn.InstanceNorm3d, {"eps": 1e-5, "affine": True}, nonlin=nn.LeakyReLU,
                              nonlin_kwargs={"inplace": True})
    randomize(net, seed=6)
    return net.eval()


@pytest.mark.parametrize("make", [plain_unet, residual_unet])
def test_same_bits_as_the_networks_own_forward(make):
    net = make()
    x = torch.randn(1, 1, 32, 40, 24, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.equal(forward_lean(net, x), net(x))


def test_the_full_resolution_skip_is_freed_before_the_segmentation_layer():
    net = plain_unet()
    skips = []
    net.encoder.register_forward_hook(lambda module, args, out: skips.extend(weakref.ref(t) for t in out))
    alive_at_head = []
    net.decoder.seg_layers[-1].register_forward_pre_hook(
        lambda module, args: alive_at_head.append([ref() is not None for ref in skips]))
    with torch.inference_mode():
        forward_lean(net, torch.randn(1, 1, 32, 32, 32))
    assert len(skips) > 2 and alive_at_head == [[False] * len(skips)]
    with torch.inference_mode():
        net(torch.randn(1, 1, 32, 32, 32))
    assert any(alive_at_head[-1])  # the network's own forward holds them: the check has teeth


def test_deep_supervision_runs_the_networks_own_forward():
    net = plain_unet()
    net.decoder.deep_supervision = True
    with torch.inference_mode():
        out = forward_lean(net, torch.randn(1, 1, 32, 32, 32))
    assert isinstance(out, list) and len(out) == len(net.decoder.stages)


@pytest.mark.parametrize(("make", "releases"), [(plain_unet, 1), (residual_unet, 0)])
def test_heap_pages_go_back_only_before_a_segmentation_layer_too_large_for_the_freed_blocks(
        make, releases, monkeypatch):
    net = make()
    seg = net.decoder.seg_layers[-1]
    assert (seg.out_channels > 2 * seg.in_channels) == bool(releases)  # 118 classes from few features; 3 from 8
    calls = []
    monkeypatch.setattr(forward, "release_freed_memory", lambda: calls.append(1))
    with torch.inference_mode():
        forward.forward_lean(net, torch.randn(1, 1, 32, 32, 32))
    assert len(calls) == releases
