"""Equivariance of keypoints under image warps (Thewlis et al. 2017; an option, not in the paper).

If an image is rotated, scaled and shifted, its keypoints should move with it.
The term gives the detector a training signal of its own, independent of the
translator, which helps keypoints become image-dependent early in training.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def random_similarity(
    batch: int, *, max_angle_deg: float, scale: tuple[float, float], shift: float
) -> torch.Tensor:
    """(B, 2, 3) output->input maps in normalised coordinates of a square image (global RNG)."""
    angle = (torch.rand(batch) * 2 - 1) * math.radians(max_angle_deg)
    s = torch.empty(batch).uniform_(*scale)
    cos, sin = torch.cos(angle) * s, torch.sin(angle) * s
    linear = torch.stack(
        [torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2
    )  # (B, 2, 2)
    t = (torch.rand(batch, 2) * 2 - 1) * shift  # (B, 2)
    return torch.cat([linear, t.unsqueeze(-1)], dim=-1)


def equivariance_loss(
    detector: nn.Module,
    images: torch.Tensor,
    keypoints: torch.Tensor,
    *,
    max_angle_deg: float = 15.0,
    scale: tuple[float, float] = (0.9, 1.1),
    shift: float = 0.1,
) -> torch.Tensor:
    """Mean distance between Q(warp(v)) and the warp applied to ``keypoints`` = Q(v), (B, K, 2)."""
    theta = random_similarity(
        images.shape[0], max_angle_deg=max_angle_deg, scale=scale, shift=shift
    )
    theta = theta.to(images)
    grid = F.affine_grid(theta, list(images.shape), align_corners=True)  # (B, H, W, 2)
    warped = F.grid_sample(images, grid, padding_mode="border", align_corners=True)
    linear, t = theta[:, :, :2], theta[:, :, 2]
    # A point p of the input lands at A⁻¹(p − t) in the output.
    expected = torch.einsum("bij,bkj->bki", torch.linalg.inv(linear), keypoints - t.unsqueeze(1))
    return (detector(warped) - expected).norm(dim=-1).mean()
