"""Sharpness of frames inside the actor's region: does the renderer blur the moving object?

A renderer that cannot place a limb exactly hedges with a blur, which the in-domain
figures (accuracy, Fréchet distances) barely see. The measure here is the gradient
energy of a frame, weighted by a soft mask around the object's keypoints, so that the
background (copied from the input image by T's mask in generated frames) does not
dilute it:

    E = Σ_ij w_ij · (1/3) Σ_c [(x_c[i, j+1] − x_c[i, j])² + (x_c[i+1, j] − x_c[i, j])²]
        / Σ_ij w_ij

over the (H−1) × (W−1) grid of forward differences, with w the actor region. A report
divides a row's mean E by the real frames' (``keyvid.evaluation``), so the units
(intensity² per pixel in [0, 1]) cancel out.

Per channel, not on luminance: the synthetic actors' colours and backgrounds are drawn
independently, so a limb edge can be nearly isoluminant (red on green); luminance would
not see it, the colour channels do. A blur lowers every channel's energy alike.
"""

from __future__ import annotations

import torch

from keyvid.models.keypoints import gaussian_maps

# The region's Gaussian std in [-1, 1] units (7.5 % of the image side, 4.8 px at 64²).
# A keypoint sits on or near a body part, and the edges to measure lie a half-width
# away: the widest synthetic parts are the legs (half-width up to 0.065 of the actor's
# height, 0.11 in [-1, 1] units for an actor 85 % of the image tall) and the head
# (radius up to 0.13). At 0.15 those edges keep a weight of 0.76 and 0.69; the weight
# falls below 0.14 at 0.3 (10 px at 64²), so the background around the actor counts
# little. Keypoints at the joints of a limb up to 0.44 long (a thigh) keep its middle at
# a weight of about 0.34.
ACTOR_RADIUS = 0.15
FRAME_CHUNK = 64  # frames per step of ``frame_sharpness``: the (chunk, K, H, W) maps stay small


def actor_region(
    keypoints: torch.Tensor, size: int | tuple[int, int], radius: float = ACTOR_RADIUS
) -> torch.Tensor:
    """(N, K, 2) keypoints in [-1, 1] -> (N, 1, H, W) soft mask of the object, in [0, 1].

    The union of Gaussian discs of std ``radius`` ([-1, 1] units) around the keypoints:
    w(u) = max_k exp(−|u − k|² / 2·radius²), 1 at every keypoint.
    """
    discs = gaussian_maps(keypoints, size, radius)  # (N, K, H, W)
    return discs.amax(dim=1, keepdim=True)  # (N, 1, H, W)


def gradient_energy(frames: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) frames in [0, 1] and (N, 1, H, W) weights -> (N,) mean gradient energy.

    E = Σ w · (gx² + gy²) / Σ w, gx, gy forward differences averaged over the channels
    (the module's formula); 0 for a flat frame, and for an empty region.
    """
    gx = frames[..., :-1, 1:] - frames[..., :-1, :-1]  # (N, 3, H-1, W-1)
    gy = frames[..., 1:, :-1] - frames[..., :-1, :-1]  # (N, 3, H-1, W-1)
    energy = (gx.square() + gy.square()).mean(dim=1, keepdim=True)  # (N, 1, H-1, W-1)
    weights = region[..., :-1, :-1]  # (N, 1, H-1, W-1): each difference at its first pixel
    total = weights.sum(dim=(1, 2, 3))  # (N,)
    return (weights * energy).sum(dim=(1, 2, 3)) / total.clamp(min=1e-12)


def frame_sharpness(
    videos: torch.Tensor, keypoints: torch.Tensor, radius: float = ACTOR_RADIUS
) -> torch.Tensor:
    """(n, T, 3, H, W) videos and their (n, T, K, 2) keypoints -> (n, T) gradient energies,
    each frame measured inside its own keypoints' region."""
    n, t, _, h, w = videos.shape
    frames = videos.reshape(n * t, *videos.shape[2:])  # (n·T, 3, H, W)
    points = keypoints.reshape(n * t, *keypoints.shape[2:]).to(frames.dtype)  # (n·T, K, 2)
    energies = [
        gradient_energy(f, actor_region(k, (h, w), radius))
        for f, k in zip(frames.split(FRAME_CHUNK), points.split(FRAME_CHUNK), strict=True)
    ]
    return torch.cat(energies).view(n, t)  # (n·T,) -> (n, T)
