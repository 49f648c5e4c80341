"""Fréchet distance between two sets of features (FID / FVD, Heusel et al. 2017).

d² = |mu1 − mu2|² + tr(S1) + tr(S2) − 2 tr((S1 S2)^½), where mu, S are the mean and
covariance of each set's features (I3D logits for FVD, an in-domain classifier's
penultimate features for the in-domain FD). The matrix square root is taken
through symmetric eigendecompositions in float64 rather than scipy's ``sqrtm``:
tr((S1 S2)^½) = tr((S1^½ S2 S1^½)^½), and S1^½ S2 S1^½ is symmetric PSD, so its
eigenvalues are real and ≥ 0 (up to rounding, clamped) — no complex parts to drop.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class FeatureMoments:
    """Running count, sum and sum of outer products of (N, D) features, in float64: the
    mean and covariance of many feature vectors (every frame of every video) without
    keeping them; memory D² whatever N. Parts computed apart (processes) add up."""

    count: int = 0
    total: torch.Tensor | None = None  # (D,) Σ x
    outer: torch.Tensor | None = None  # (D, D) Σ x xᵀ

    def add(self, features: torch.Tensor) -> None:
        x = torch.as_tensor(features, dtype=torch.float64)  # (N, D)
        if x.ndim != 2:
            raise KeyvidError(f"features must be (N, D), got shape {tuple(x.shape)}")
        self._accumulate(len(x), x.sum(0), x.T @ x)

    def merge(self, other: FeatureMoments) -> None:
        if other.count:
            self._accumulate(other.count, other.total, other.outer)

    def _accumulate(self, count: int, total: torch.Tensor, outer: torch.Tensor) -> None:
        self.count += count
        self.total = total.clone() if self.total is None else self.total + total
        self.outer = outer.clone() if self.outer is None else self.outer + outer

    def statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean (D,) and unbiased covariance (D, D), as ``feature_statistics`` gives them."""
        if self.count < 2:
            raise KeyvidError(f"a covariance needs at least 2 feature vectors, got {self.count}")
        mean = self.total / self.count  # (D,)
        scatter = self.outer - self.count * torch.outer(mean, mean)  # (D, D): Σ (x−μ)(x−μ)ᵀ
        return mean, scatter / (self.count - 1)


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


def frechet_distance_of_moments(moments1: FeatureMoments, moments2: FeatureMoments) -> float:
    """Fréchet distance between two feature sets kept as running moments."""
    return frechet_distance(*moments1.statistics(), *moments2.statistics())
