"""The motion generator's variational terms (paper Eq. 5): KL to N(0, I) and keypoint L1."""

from __future__ import annotations

import torch


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over the latent, averaged over the batch."""
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)  # (B, latent)
    return kl.sum(dim=1).mean()


def keypoint_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of keypoint coordinates (λ2 = 1000 weighs it, paper Sec. 3.2)."""
    return (pred - target).abs().mean()
