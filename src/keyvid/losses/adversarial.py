"""GAN losses with sigmoid cross-entropy, as in the paper's L_Dim and L_Q,T, and the
discriminator feature matching of pix2pixHD."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(real) - log(1 - D(fake)), averaged over patches."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(fake): the non-saturating generator loss."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def multiscale_discriminator_loss(
    real: list[torch.Tensor], fake: list[torch.Tensor]
) -> torch.Tensor:
    """:func:`discriminator_loss` averaged over the scales' logits (one scale: the same)."""
    return sum(discriminator_loss(r, f) for r, f in zip(real, fake, strict=True)) / len(real)


def multiscale_generator_loss(fake: list[torch.Tensor]) -> torch.Tensor:
    """:func:`generator_loss` averaged over the scales' logits."""
    return sum(generator_loss(f) for f in fake) / len(fake)


def feature_matching_loss(
    real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]
) -> torch.Tensor:
    """Mean L1 between D's activations on real and translated images, over every layer but
    the logits and every scale (pix2pixHD, Eq. 4). Real activations are targets: no
    gradient flows into them, so this trains the generator only."""
    terms = [
        (f - r.detach()).abs().mean()
        for real_scale, fake_scale in zip(real, fake, strict=True)
        for r, f in zip(real_scale[:-1], fake_scale[:-1], strict=True)
    ]
    return sum(terms) / len(terms)
