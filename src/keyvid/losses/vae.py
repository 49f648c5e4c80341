"""The motion generator's variational terms (paper Eq. 5): KL to N(0, I) and keypoint L1."""

from __future__ import annotations

import torch


def kl_divergence(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    prior_mu: torch.Tensor | None = None,
    prior_logvar: torch.Tensor | None = None,
) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || prior), summed over the latent, averaged over the batch.

    The prior is N(0, I) unless ``prior_mu`` / ``prior_logvar`` (B, latent) are given.
    """
    if prior_mu is None:
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)  # (B, latent)
    else:
        var_ratio = (logvar - prior_logvar).exp()
        kl = 0.5 * (
            var_ratio + (mu - prior_mu).pow(2) / prior_logvar.exp() - 1.0 - logvar + prior_logvar
        )
    return kl.sum(dim=1).mean()


def keypoint_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of keypoint coordinates (λ2 = 1000 weighs it, paper Sec. 3.2)."""
    return (pred - target).abs().mean()
