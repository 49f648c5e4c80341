"""Reconstruction error where the frames differ (an option, not in the paper).

Between two frames of a video only the moving parts change. Copying the
reference is a cheap local optimum of a plain reconstruction loss when those
parts are small (thin limbs at 64×64); weighting the error by where the target
differs from the reference makes the moving parts count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def motion_mask(
    source: torch.Tensor, target: torch.Tensor, *, threshold: float = 0.05, dilation: int = 5
) -> torch.Tensor:
    """(B, 1, H, W) 1 where the frames differ by more than ``threshold`` (dilated), else 0."""
    diff = (target - source).abs().mean(dim=1, keepdim=True)  # (B, 1, H, W)
    mask = (diff > threshold).float()
    return F.max_pool2d(mask, dilation, stride=1, padding=dilation // 2)


def motion_weighted_l1(
    pred: torch.Tensor, target: torch.Tensor, source: torch.Tensor
) -> torch.Tensor:
    """Mean L1 of ``pred`` vs ``target`` over pixels where ``source`` and ``target`` differ."""
    mask = motion_mask(source, target)
    return ((pred - target).abs() * mask).sum() / (3 * mask.sum()).clamp_min(1.0)
