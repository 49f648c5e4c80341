"""Keypoints from heatmaps (paper Eq. 1) and keypoints to Gaussian maps (Eq. 2).

Coordinates follow ``keyvid.coords``: (x, y) in [-1, 1], -1 and +1 at the
centres of the first and last pixel.
"""

from __future__ import annotations

import torch


def grid_1d(n: int, device=None, dtype=None) -> torch.Tensor:
    """(n,) pixel-centre coordinates spanning [-1, 1]."""
    return torch.linspace(-1.0, 1.0, n, device=device, dtype=dtype)


def soft_argmax(heatmaps: torch.Tensor, mode: str = "axis") -> torch.Tensor:
    """Expected (x, y) of each heatmap: (B, K, H, W) logits -> (B, K, 2).

    ``mode="2d"`` is the paper's Eq. 1: softmax over all pixels, then the
    expectation. ``mode="axis"`` is what the authors' code (and IMM) does:
    average the logits over one axis, softmax along the other, expectation per
    axis; it is cheaper and gives the same fixed points for a single peak.
    """
    b, k, h, w = heatmaps.shape
    xs = grid_1d(w, heatmaps.device, heatmaps.dtype)
    ys = grid_1d(h, heatmaps.device, heatmaps.dtype)
    if mode == "axis":
        px = heatmaps.mean(dim=2).softmax(dim=-1)  # (B, K, W)
        py = heatmaps.mean(dim=3).softmax(dim=-1)  # (B, K, H)
    elif mode == "2d":
        p = heatmaps.flatten(2).softmax(dim=-1).view(b, k, h, w)  # (B, K, H, W)
        px, py = p.sum(dim=2), p.sum(dim=3)  # marginals (B, K, W), (B, K, H)
    else:
        raise ValueError(f"unknown soft-argmax mode {mode!r}; use 'axis' or '2d'")
    return torch.stack([(px * xs).sum(-1), (py * ys).sum(-1)], dim=-1)  # (B, K, 2)


def gaussian_maps(
    keypoints: torch.Tensor, size: int | tuple[int, int], sigma: float
) -> torch.Tensor:
    """(B, K, 2) keypoints -> (B, K, H, W) maps exp(-|u - k|² / 2σ²), peak 1 at each keypoint.

    The paper's Eq. 2 has the Gaussian's normalising constant; it only rescales
    the maps, so it is left out to keep their values in [0, 1]. ``sigma`` is in
    normalised units (the authors' code: inverse std 14.3, σ ≈ 0.07).
    """
    # A pair is (H, W); anything else one side (a traced shape is a 0-d tensor, not an int).
    h, w = size if isinstance(size, tuple | list) else (int(size), int(size))
    xs = grid_1d(w, keypoints.device, keypoints.dtype)  # (W,)
    ys = grid_1d(h, keypoints.device, keypoints.dtype)  # (H,)
    gx = torch.exp(-((xs - keypoints[..., 0:1]) ** 2) / (2 * sigma**2))  # (B, K, W)
    gy = torch.exp(-((ys - keypoints[..., 1:2]) ** 2) / (2 * sigma**2))  # (B, K, H)
    return gy.unsqueeze(-1) * gx.unsqueeze(-2)  # separable: (B, K, H, W)
