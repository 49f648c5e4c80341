"""The diffusion motion generator's training terms (MDM, Tevet et al. 2023, Sec. 3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def denoising_losses(pred: torch.Tensor, clean: torch.Tensor) -> dict[str, torch.Tensor]:
    """Named terms for predicted and true clean sequences, each (B, T, D).

    ``position``: MSE of x̂0 against x0 (MDM's L_simple; here x0 holds positions as
    offsets from k0, so it is also MDM's position loss). ``velocity``: MSE of the
    frame-to-frame differences (MDM's L_vel), which penalises jitter that a per-frame
    error barely sees.
    """
    return {
        "position": F.mse_loss(pred, clean),
        "velocity": F.mse_loss(pred.diff(dim=1), clean.diff(dim=1)),
    }
