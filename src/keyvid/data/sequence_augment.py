"""Augmentation of keypoint sequences for stage 2 (authors' code: rotation, flip, scale).

One random similarity transform about the image centre is applied to every
frame of a sequence, so the motion keeps its shape. Works on whole batches;
randomness comes from a ``torch.Generator`` passed in, so a resumed run that
restores the generator draws the same transforms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class KeypointAugmentConfig:
    flip: bool = True  # mirror x with probability 1/2 (authors' code)
    rotation_deg: float = 15.0  # uniform in ±15° (authors' code)
    scale: tuple[float, float] = (0.7, 1.2)  # uniform keypoint scale (authors' code)

    @classmethod
    def none(cls) -> KeypointAugmentConfig:
        return cls(False, 0.0, (1.0, 1.0))


def augment_keypoint_sequences(
    sequences: torch.Tensor, config: KeypointAugmentConfig, generator: torch.Generator | None
) -> torch.Tensor:
    """(B, T, K, 2) sequences -> the same, each moved by its own random similarity."""
    b = sequences.shape[0]

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(b, generator=generator)

    angle = uniform(-1.0, 1.0) * math.radians(config.rotation_deg)
    scale = uniform(*config.scale)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    matrix = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)  # (B, 2, 2)
    if config.flip:
        mirror = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
        matrix = matrix * torch.stack([mirror, torch.ones(b)], 1)[:, None, :]  # flips x first
    matrix = matrix.to(sequences)
    return torch.einsum("bij,btkj->btki", matrix, sequences)
