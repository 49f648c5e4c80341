"""The motion generator's variational terms: KL to N(0, I) and the keypoint L1."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal
from torch.distributions import kl_divergence as torch_kl

from keyvid.losses.vae import keypoint_l1, kl_divergence


def test_kl_is_zero_for_the_prior_itself():
    assert float(kl_divergence(torch.zeros(3, 5), torch.zeros(3, 5))) == 0.0


def test_kl_by_hand_sums_the_latent_and_averages_the_batch():
    mu = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [0.0, 0.0]])
    # Per dimension 0.5 * (mu² + σ² - 1 - log σ²):
    # first row: 0.5 * (1 + 1 - 1 - 0) + 0.5 * (4 + 4 - 1 - log 4) = 4 - log 2; second row: 0.
    expected = (4.0 - math.log(2.0) + 0.0) / 2
    assert float(kl_divergence(mu, logvar)) == pytest.approx(expected, rel=1e-6)


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g)
    q = Normal(mu, (0.5 * logvar).exp())
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch_kl(q, p).sum(dim=1).mean()
    torch.testing.assert_close(kl_divergence(mu, logvar), expected)


def test_keypoint_l1_is_the_mean_absolute_difference():
    pred = torch.zeros(1, 2, 1, 2)
    target = torch.tensor([[[[1.0, -2.0]], [[0.5, 0.0]]]])
    assert float(keypoint_l1(pred, target)) == pytest.approx((1 + 2 + 0.5 + 0) / 4)
    assert float(keypoint_l1(target, target)) == 0.0


def test_kl_to_a_learned_prior_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mu, logvar, pmu, plogvar = (torch.randn(4, 6, generator=g) for _ in range(4))
    q = Normal(mu, (0.5 * logvar).exp())
    p = Normal(pmu, (0.5 * plogvar).exp())
    expected = torch_kl(q, p).sum(dim=1).mean()
    torch.testing.assert_close(kl_divergence(mu, logvar, pmu, plogvar), expected)
    assert float(kl_divergence(mu, logvar, mu, logvar)) == pytest.approx(0.0, abs=1e-6)
