"""The image discriminator D_im: a patch GAN (authors' code: six 4×4 stride-2 convs)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class DiscriminatorConfig:
    channels: int = 64  # first conv width, doubling per layer (authors' code)
    max_channels: int = 512
    num_layers: int = 6  # 4×4 stride-2 convs: 128 -> 2×2 patches with 6 (authors' code)
    negative_slope: float = 0.01  # LeakyReLU slope (authors' code; TF's default 0.2 is not used)


class ImageDiscriminator(nn.Module):
    """(B, 3, H, W) images in [0, 1] -> (B, 1, h, w) patch logits (real > 0)."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(config.num_layers):
            c_out = min(config.channels * 2**i, config.max_channels)
            layers += [
                nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
                nn.LeakyReLU(config.negative_slope),
            ]
            c_in = c_out
        layers.append(nn.Conv2d(c_in, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images * 2.0 - 1.0)
