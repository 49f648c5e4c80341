"""The image discriminator D_im: a patch GAN (authors' code: six 4×4 stride-2 convs),
optionally at several scales (pix2pixHD, Wang et al. 2018: the same network on the image
and on 2×, 4×, ... average-pooled copies, so one judges texture and another layout)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DiscriminatorConfig:
    channels: int = 64  # first conv width, doubling per layer (authors' code)
    max_channels: int = 512
    num_layers: int = 6  # 4×4 stride-2 convs: 128 -> 2×2 patches with 6 (authors' code)
    negative_slope: float = 0.01  # LeakyReLU slope (authors' code; TF's default 0.2 is not used)
    scales: int = 1  # patch GANs on 1×, 2×, 4×... downsampled images (paper 1; pix2pixHD 3)


class PatchDiscriminator(nn.Module):
    """(B, 3, H, W) images in [-1, 1] -> the activation of every layer, the last being the
    (B, 1, h, w) patch logits (real > 0); the others serve feature matching."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(config.num_layers):
            c_out = min(config.channels * 2**i, config.max_channels)
            layers.append(
                nn.Sequential(
                    nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
                    nn.LeakyReLU(config.negative_slope),
                )
            )
            c_in = c_out
        layers.append(nn.Conv2d(c_in, 1, 3, padding=1))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        activations = []
        for layer in self.layers:
            x = layer(x)
            activations.append(x)
        return activations


class ImageDiscriminator(nn.Module):
    """(B, 3, H, W) images in [0, 1] -> per scale (finest first) the activations of every
    layer; ``[-1]`` of each is that scale's (B, 1, h, w) patch logits."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        self.scales = nn.ModuleList(PatchDiscriminator(config) for _ in range(config.scales))

    def forward(self, images: torch.Tensor) -> list[list[torch.Tensor]]:
        x = images * 2.0 - 1.0
        out = []
        for i, net in enumerate(self.scales):
            if i > 0:  # pix2pixHD: 3×3 average pooling, stride 2, border excluded
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            out.append(net(x))
        return out


def patch_logits(activations: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """The (B, 1, h, w) logits of every scale from :class:`ImageDiscriminator`'s output."""
    return [scale[-1] for scale in activations]


def split_batch(
    activations: list[list[torch.Tensor]], parts: int = 2
) -> tuple[list[list[torch.Tensor]], ...]:
    """D's output on a concatenation of ``parts`` equal batches -> one output per batch."""
    chunks = [[a.chunk(parts) for a in scale] for scale in activations]
    return tuple([[c[p] for c in scale] for scale in chunks] for p in range(parts))
