"""Measuring how fast a plan trains on a device: the candidates of a budgeted run.

One training iteration is what the trainer does per batch: a batch made by the patch loader from
the cached cases (augmentation included), forward, Dice + CE with deep supervision, backward and
the SGD step (under AMP on CUDA). A few warm-up iterations run first; then iterations are timed
until ``seconds`` have passed (a plan whose single iteration takes longer is timed on that one).
On CPU the loader and the network share the cores, so an iteration costs both; on a GPU the loader's
threads overlap the network and the slower of the two sets the pace. Mixed precision is the
trainer's: fp16 autocast on CUDA, bf16 autocast on CPU with ``bf16`` (loss in fp32).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from dynamic_network_architectures.initialization.weight_init import InitWeights_He

from totalseg.models.network import build_network
from totalseg.models.plans import ModelConfig
from totalseg.training.augment import default_augmentation
from totalseg.training.budget import Speed
from totalseg.training.loader import PatchLoader
from totalseg.training.loss import amp_dtype, outputs_and_loss
from totalseg.training.planner import CONFIGURATION
from totalseg.training.preprocessing import CachedCase


def measure_speed(plans: dict, dataset_json: dict, cases: Sequence[CachedCase], device: torch.device, *,
                  seconds: float = 3.0, warmup: int = 2, bf16: bool = False) -> Speed:
    """Training iterations per second and seconds per validation batch of ``plans`` on ``device``.

    Examples:
        >>> speed = measure_speed(plans, dataset_json, cases, torch.device("cpu"), seconds=2)  # doctest: +SKIP
        >>> speed.iterations_per_s  # doctest: +SKIP
        3.1
    """
    conf = plans["configurations"][CONFIGURATION]
    config = ModelConfig.from_dicts(plans, dataset_json)
    network = build_network(config)
    network.apply(InitWeights_He(1e-2))
    network.decoder.deep_supervision = True
    network.to(device).train()
    optimizer = torch.optim.SGD(network.parameters(), lr=1e-3, momentum=0.99, nesterov=True)
    loader = PatchLoader(cases, default_augmentation(tuple(conf["patch_size"])), conf["batch_size"], seed=12345)
    amp = device.type == "cuda" or bf16
    step_s, batch_s = [], []
    deadline = None
    for i in range(warmup + 1000):
        started = time.perf_counter()
        batch = loader.batch(0, i)
        loaded = time.perf_counter()
        image, seg = batch.image.to(device), batch.seg.to(device)
        optimizer.zero_grad(set_to_none=True)
        _, loss = outputs_and_loss(network, image, seg, amp=amp)
        loss.backward()
        optimizer.step()
        _sync(device)
        done = time.perf_counter()
        if i >= warmup or done - started > seconds:
            step_s.append(done - loaded)
            batch_s.append(loaded - started)
            deadline = deadline or started + seconds
            if done >= deadline:
                break
    step, load = sum(step_s) / len(step_s), sum(batch_s) / len(batch_s)
    per_iteration = step + load if device.type == "cpu" else max(step, load)
    return Speed(1 / per_iteration, _forward_s(network, image, device, amp))


@torch.no_grad()
def _forward_s(network: torch.nn.Module, image: torch.Tensor, device: torch.device, amp: bool) -> float:
    """Seconds for one forward pass of a batch (a validation batch)."""
    network.eval()
    started = time.perf_counter()
    with torch.autocast(device.type, dtype=amp_dtype(device), enabled=amp):
        network(image)
    _sync(device)
    network.train()
    return time.perf_counter() - started


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
