"""Fréchet distance: agrees with the scipy formula, is 0 for a set with itself."""

import numpy as np
import pytest
import scipy.linalg
import torch

from keyvid.errors import KeyvidError
from keyvid.metrics.frechet import (
    FeatureMoments,
    feature_statistics,
    frechet_distance,
    frechet_distance_between,
    frechet_distance_of_moments,
)


def scipy_frechet(mu1, s1, mu2, s2) -> float:
    """The reference formula of pytorch-fid / the FVD code, with scipy's sqrtm."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def random_gaussian(rng, d):
    a = rng.normal(size=(d, d))
    return rng.normal(size=d), a @ a.T / d + 0.1 * np.eye(d)


@pytest.mark.parametrize("d", [1, 8, 64])
def test_matches_scipy_on_known_gaussians(d):
    rng = np.random.default_rng(d)
    (mu1, s1), (mu2, s2) = random_gaussian(rng, d), random_gaussian(rng, d)
    ours = frechet_distance(
        torch.tensor(mu1), torch.tensor(s1), torch.tensor(mu2), torch.tensor(s2)
    )
    assert ours == pytest.approx(scipy_frechet(mu1, s1, mu2, s2), rel=1e-6)


def test_matches_scipy_on_features_with_a_singular_covariance():
    # Fewer samples than dimensions (as with few videos): rank-deficient covariances.
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 32)), rng.normal(1.0, 2.0, size=(25, 32))
    expected = scipy_frechet(
        *(np.asarray(t) for t in feature_statistics(x)),
        *(np.asarray(t) for t in feature_statistics(y)),
    )
    assert frechet_distance_between(x, y) == pytest.approx(expected, rel=1e-6)


def test_a_set_with_itself_is_zero_and_shifts_add_their_square():
    x = np.random.default_rng(1).normal(size=(200, 16))
    assert frechet_distance_between(x, x) == pytest.approx(0.0, abs=1e-8)
    # Same covariance, means 3 apart along one axis: d² = 9.
    shifted = x + np.eye(16)[0] * 3.0
    assert frechet_distance_between(x, shifted) == pytest.approx(9.0, rel=1e-9)


def test_statistics_need_two_vectors_of_one_dimension():
    with pytest.raises(KeyvidError, match="at least 2 feature vectors"):
        feature_statistics(np.zeros((1, 4)))
    with pytest.raises(KeyvidError, match=r"must be \(N, D\)"):
        feature_statistics(np.zeros(4))


def test_running_moments_in_parts_give_the_statistics_of_the_whole():
    rng = np.random.default_rng(2)
    x, y = rng.normal(2.0, 1.5, size=(60, 8)), rng.normal(size=(45, 8))
    moments_x, first, second = FeatureMoments(), FeatureMoments(), FeatureMoments()
    for part in np.array_split(x, 4):
        moments_x.add(torch.tensor(part))
    first.add(torch.tensor(y[:20]))
    second.add(torch.tensor(y[20:]))
    first.merge(second)  # as the ranks of a torchrun evaluation merge
    first.merge(FeatureMoments())  # an empty part adds nothing
    mean, cov = moments_x.statistics()
    expected_mean, expected_cov = feature_statistics(x)
    assert moments_x.count == 60 and first.count == 45
    assert torch.allclose(mean, expected_mean) and torch.allclose(cov, expected_cov)
    assert frechet_distance_of_moments(moments_x, first) == pytest.approx(
        frechet_distance_between(x, y), rel=1e-9
    )
    with pytest.raises(KeyvidError, match="at least 2 feature vectors"):
        FeatureMoments().statistics()
