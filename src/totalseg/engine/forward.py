"""The U-Net forward pass for inference, leaner in memory than the network's own."""

from __future__ import annotations

import torch
from dynamic_network_architectures.building_blocks.unet_decoder import UNetDecoder
from torch import nn

from totalseg.engine.heap import release_freed_memory


def forward_lean(network: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``network(x)`` for inference, freeing each skip connection once the decoder has used it.

    The U-Net's own forward keeps every encoder output until the segmentation layer has run, and
    that layer is where inference peaks in memory (for one 112 x 112 x 128 tile: 205 MB for the
    full-resolution skip, 760 MB for 118 output channels). Here the same modules run in the same
    order on the same tensors, so the result is bit-identical. Networks other than an encoder with
    nnU-Net's ``UNetDecoder`` without deep supervision run their own forward.

    When the segmentation layer's output is larger than the largest block the decoder has just
    freed (its last concatenation, twice the layer's input channels), it cannot reuse that block
    and the heap would grow by its whole size: then the heap's free pages go back to the system
    first (:func:`~totalseg.engine.heap.release_freed_memory`). Otherwise the release would only
    cost time: about 0.5 s per 128^3 tile of the 1.5 mm models (the trim, then every page faulted
    in again on the next tile), for the same peak.

    Examples:
        >>> from dynamic_network_architectures.architectures.unet import PlainConvUNet
        >>> net = PlainConvUNet(1, 2, (4, 8), nn.Conv3d, 3, (1, 2), (1, 1), 3, (1,), False,
        ...                     nn.InstanceNorm3d, nonlin=nn.LeakyReLU).eval()
        >>> x = torch.randn(1, 1, 8, 8, 8)
        >>> with torch.no_grad():
        ...     torch.equal(forward_lean(net, x), net(x))
        True
    """
    decoder = getattr(network, "decoder", None)
    if type(decoder) is not UNetDecoder or decoder.deep_supervision:
        return network(x)
    skips = network.encoder(x)
    features = skips.pop()
    for upsample, stage in zip(decoder.transpconvs, decoder.stages):
        features = stage(torch.cat((upsample(features), skips.pop()), 1))
    seg_layer = decoder.seg_layers[-1]
    if outgrows_freed_blocks(seg_layer):
        release_freed_memory()
    return seg_layer(features)


def outgrows_freed_blocks(seg_layer: nn.Module) -> bool:
    """Whether the segmentation layer's output is larger than the decoder's last concatenation
    (``2 x in_channels`` at the same resolution), the largest block freed before it runs.

    Examples:
        >>> outgrows_freed_blocks(nn.Conv3d(32, 118, 1)), outgrows_freed_blocks(nn.Conv3d(32, 25, 1))
        (True, False)
    """
    return seg_layer.out_channels > 2 * seg_layer.in_channels
