"""Training losses."""

from keyvid.losses.adversarial import discriminator_loss, generator_loss
from keyvid.losses.reconstruction import (
    DEFAULT_FALLBACK,
    ENV_VAR,
    KINDS,
    ReconstructionLoss,
    multiscale_l1_ssim,
    ssim,
)

__all__ = [
    "DEFAULT_FALLBACK",
    "ENV_VAR",
    "KINDS",
    "ReconstructionLoss",
    "discriminator_loss",
    "generator_loss",
    "multiscale_l1_ssim",
    "ssim",
]
