"""The keypoint detector Q: image -> K heatmaps -> K expected (x, y) (paper Sec. 2, Eq. 1)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from keyvid.config import choices
from keyvid.models.keypoints import soft_argmax
from keyvid.models.layers import conv_bn_relu


@dataclass
class DetectorConfig:
    num_keypoints: int = 40  # K: 40 Penn Action, 15 UvA-NEMO, 60 MGIF (paper Sec. 3.2)
    image_size: int = 128  # paper Sec. 3.2
    channels: int = 32  # width of the first conv (authors' code: 7×7, 32)
    num_down: int = 3  # stride-2 stages doubling channels (authors: 3, to 16×16×256 at 128)
    heatmap_stride: int = 1  # heatmaps at image_size / stride (authors: full resolution)
    coordinates: str = choices("axis", "2d", default="axis")  # soft-argmax: authors' code / Eq. 1
    # Logits are multiplied by this before the softmax (1 in the paper). At 1 the
    # initial heatmaps are nearly uniform, every keypoint sits at the image centre
    # whatever the image, and the translator learns to ignore them (measured); a
    # larger scale makes keypoints image-dependent from the first step.
    heatmap_scale: float = 1.0
    # Not in the paper (0 there: Q reads the image at image_size): Q reads the image
    # average-pooled to this size (FOMM's keypoint detector reads 64² of 256², scale 0.25).
    # Keypoints are resolution-free, so a 128² translator can be driven by a detector
    # trained at 64², at a quarter of the detector's cost.
    input_size: int = 0


def reading(config: DetectorConfig) -> dict:
    """What decides a detector's weights and keypoints: its settings with the resolution
    it reads (``input_size`` or else ``image_size``) in place of the two sizes."""
    settings = {f: getattr(config, f) for f in config.__dataclass_fields__}
    input_size, image_size = settings.pop("input_size"), settings.pop("image_size")
    return {**settings, "reads": input_size or image_size}


class KeypointDetector(nn.Module):
    """Encoder-decoder with skip connections, a 1×1 conv to K heatmaps and a soft-argmax."""

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__()
        self.config = config
        if config.input_size and config.image_size % config.input_size:
            raise ValueError(f"input_size {config.input_size} must divide {config.image_size}")
        c = config.channels
        self.stem = conv_bn_relu(3, c, kernel=7)
        widths = [c * 2**i for i in range(config.num_down + 1)]  # e.g. 32, 64, 128, 256
        self.down = nn.ModuleList(
            nn.Sequential(
                conv_bn_relu(widths[i], widths[i + 1], stride=2),
                conv_bn_relu(widths[i + 1], widths[i + 1]),
            )
            for i in range(config.num_down)
        )
        num_up = config.num_down - (config.heatmap_stride.bit_length() - 1)
        if num_up < 0 or 2 ** (config.heatmap_stride.bit_length() - 1) != config.heatmap_stride:
            raise ValueError("heatmap_stride must be a power of 2 no larger than 2**num_down")
        # Up stage j goes from widths[n - j] to widths[n - j - 1], concatenating that skip.
        n = config.num_down
        self.up = nn.ModuleList(
            conv_bn_relu(widths[n - j] + widths[n - j - 1], widths[n - j - 1])
            for j in range(num_up)
        )
        self.head = nn.Conv2d(widths[n - num_up], config.num_keypoints, kernel_size=1)

    def heatmaps(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images in [0, 1] -> (B, K, H'/s, W'/s) heatmap logits, H' = H or
        ``input_size``."""
        x = self.stem(self.resize(images) * 2.0 - 1.0)
        skips = [x]
        for stage in self.down:
            x = stage(x)
            skips.append(x)
        for j, stage in enumerate(self.up):
            skip = skips[-2 - j]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = stage(torch.cat([x, skip], dim=1))
        return self.head(x)

    def resize(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 3, input_size, input_size) by average pooling (an integer factor)."""
        size = self.config.input_size
        if not size or images.shape[-1] == size:
            return images
        return F.avg_pool2d(images, images.shape[-1] // size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images in [0, 1] -> (B, K, 2) keypoints in [-1, 1]."""
        heatmaps = self.heatmaps(images) * self.config.heatmap_scale
        return soft_argmax(heatmaps, self.config.coordinates)
