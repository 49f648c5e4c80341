"""GAN losses: multi-scale averaging and pix2pixHD feature matching."""

import pytest
import torch

from keyvid.losses.adversarial import (
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    multiscale_discriminator_loss,
    multiscale_generator_loss,
)


def test_one_scale_equals_the_single_scale_losses():
    real, fake = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    assert torch.equal(
        multiscale_discriminator_loss([real], [fake]), discriminator_loss(real, fake)
    )
    assert torch.equal(multiscale_generator_loss([fake]), generator_loss(fake))


def test_feature_matching_skips_the_logits_and_trains_only_the_fake_side():
    real = [[torch.zeros(2, 3, 4, 4, requires_grad=True), torch.full((2, 1, 2, 2), 9.0)]]
    fake = [[torch.ones(2, 3, 4, 4, requires_grad=True), torch.zeros(2, 1, 2, 2)]]
    loss = feature_matching_loss(real, fake)
    assert loss.item() == pytest.approx(1.0)  # |1 - 0| on the one feature layer; logits ignored
    loss.backward()
    assert real[0][0].grad is None and fake[0][0].grad.abs().sum() > 0
    same = [[t.detach().clone() for t in scale] for scale in fake]
    assert feature_matching_loss(same, fake).item() == 0
