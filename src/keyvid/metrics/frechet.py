"""Fréchet distance between two sets of features (FID / FVD, Heusel et al. 2017).

d² = |mu1 − mu2|² + tr(S1) + tr(S2) − 2 tr((S1 S2)^½), where mu, S are the mean and
covariance of each set's features (I3D logits for FVD, an in-domain classifier's
penultimate features for the in-domain FD). The matrix square root is taken
through symmetric eigendecompositions in float64 rather than scipy's ``sqrtm``:
tr((S1 S2)^½) = tr((S1^½ S2 S1^½)^½), and S1^½ S2 S1^½ is symmetric PSD, so its
eigenvalues are real and ≥ 0 (up to rounding, clamped) — no complex parts to drop.
"""

from __future__ import annotations

import numpy as np
import torch

from keyvid.errors import KeyvidError


def feature_statistics(features: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, D) features -> mean (D,) and unbiased covariance (D, D), in float64."""
    x = torch.as_tensor(features, dtype=torch.float64)
    if x.ndim != 2:
        raise KeyvidError(f"features must be (N, D), got shape {tuple(x.shape)}")
    if x.shape[0] < 2:
        raise KeyvidError(f"a covariance needs at least 2 feature vectors, got {x.shape[0]}")
    return x.mean(0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(
    mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), squared as FID/FVD report it."""
    mu1, mu2, sigma1, sigma2 = (
        torch.as_tensor(t, dtype=torch.float64) for t in (mu1, mu2, sigma1, sigma2)
    )
    root1 = _sqrt_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    middle = 0.5 * (middle + middle.T)  # exactly symmetric for eigh
    trace_sqrt = torch.linalg.eigvalsh(middle).clamp(min=0).sqrt().sum()
    d2 = (mu1 - mu2).pow(2).sum() + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt
    return float(d2.clamp(min=0))


def frechet_distance_between(
    features1: torch.Tensor | np.ndarray, features2: torch.Tensor | np.ndarray
) -> float:
    """Fréchet distance between two (N, D) feature sets."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))
