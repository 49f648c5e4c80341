"""The in-domain evaluator: a small video action classifier (issue 6).

It needs no outside weights: trained on a dataset's real training videos, it
gives (a) action-recognition accuracy of real and generated test videos — the
paper's Table 2 protocol, with this network in place of the paper's pretrained
recogniser — and (b) a Fréchet distance on its penultimate features
("in-domain FD"), which works offline and on the synthetic data where I3D's
Kinetics features mean little.

A plain 3-D CNN (C3D-like, Tran et al. 2015, much narrower): space is halved
first, time later, so that the first layers see single-frame appearance and the
deeper ones motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class ActionClassifierConfig:
    """``num_actions`` and ``actions`` (class names in logit order) are read from the
    training data; they travel with the checkpoint so that evaluation can refuse data
    of other classes."""

    num_actions: int = 9  # Penn Action's 9 classes
    actions: tuple[str, ...] = ()
    # Clip length it reads: 16 frames spread over a video (`sequence_indices`), at
    # stride 2 for the 40-frame synthetic videos and the 33-frame generated ones.
    frames: int = 16
    channels: int = 32  # first block's width, doubled by the second and third
    features: int = 128  # penultimate features (the in-domain FD's space)
    dropout: float = 0.3  # before the last layer: a few hundred training videos


# The backbone's layers that see one frame at a time: conv, space-only pool, conv. The
# next layer pools time by 2, which a single frame does not have.
SPATIAL_STAGES = 3


def conv3d_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm3d(c_out),
        nn.ReLU(inplace=True),
    )


class ActionClassifier(nn.Module):
    """(B, T, 3, H, W) clip in [0, 1] -> (B, num_actions) logits; any T ≥ 4, H, W ≥ 8."""

    def __init__(self, config: ActionClassifierConfig) -> None:
        super().__init__()
        if config.actions and len(config.actions) != config.num_actions:
            raise ValueError(f"{len(config.actions)} action names for {config.num_actions} classes")
        self.config = config
        c = config.channels
        self.backbone = nn.Sequential(
            conv3d_bn_relu(3, c),
            nn.MaxPool3d((1, 2, 2)),  # space only: appearance first
            conv3d_bn_relu(c, 2 * c),
            nn.MaxPool3d(2),
            conv3d_bn_relu(2 * c, 4 * c),
            nn.MaxPool3d(2),
            conv3d_bn_relu(4 * c, 4 * c),
            nn.AdaptiveAvgPool3d(1),  # (B, 4c, 1, 1, 1): any clip length and size
        )
        self.to_features = nn.Sequential(nn.Linear(4 * c, config.features), nn.ReLU(inplace=True))
        self.head = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(config.features, config.num_actions)
        )

    def features(self, clip: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) clip -> (B, features) penultimate features."""
        x = clip.permute(0, 2, 1, 3, 4) * 2 - 1  # (B, 3, T, H, W) in [-1, 1]
        return self.to_features(self.backbone(x).flatten(1))

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) frames in [0, 1] -> (N, 2·channels) spatial features of each frame.

        Each frame goes alone, as a 1-frame clip, through the first ``SPATIAL_STAGES``
        layers, then is averaged over space. The 3-D convolutions' outer temporal taps
        then see only their zero padding (in a clip they see the neighbouring frames), so
        these are not the clip's activations, but the same fixed function of one frame
        for real and generated frames alike: what a per-frame Fréchet distance needs.
        Adds no parameters: the state dict, and shipped checkpoints, are unchanged.
        """
        x = frames[:, :, None] * 2 - 1  # (N, 3, 1, H, W): a 1-frame clip in [-1, 1]
        x = self.backbone[:SPATIAL_STAGES](x)  # (N, 2c, 1, H/2, W/2)
        return x.mean(dim=(2, 3, 4))  # (N, 2c)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(clip))
