"""A separation prior on keypoints (Zhang et al. 2018, Eq. 6; an option, not in the paper).

Keypoints of one image repel each other within a few σ, so that they spread over
the object instead of piling up on its largest, steadiest part (the torso).
"""

from __future__ import annotations

import torch


def separation_loss(keypoints: torch.Tensor, sigma: float = 0.1) -> torch.Tensor:
    """Mean over pairs i ≠ j of exp(−|k_i − k_j|² / 2σ²) for (B, K, 2) keypoints; in [0, 1]."""
    k = keypoints.shape[1]
    if k < 2:
        return keypoints.new_zeros(())
    d2 = (keypoints.unsqueeze(2) - keypoints.unsqueeze(1)).pow(2).sum(-1)  # (B, K, K)
    near = torch.exp(-d2 / (2 * sigma**2))
    off_diagonal = ~torch.eye(k, dtype=torch.bool, device=keypoints.device)
    return near[:, off_diagonal].mean()
