"""Data augmentation that moves images and keypoints together.

The paper (Section 3.2) augments stage-1 training with horizontal flips,
rotation, random image filters and random crops. Geometric transforms are one
affine map applied with ``grid_sample`` to every frame of a pair or sequence
and, exactly inverted, to every set of points, so a joint drawn on a frame stays
on that joint after the transform. Photometric filters (colour jitter, blur,
sharpen) change pixels only.

Parameters are drawn from a ``numpy.random.Generator`` passed in by the caller,
so a sample's augmentation is a pure function of its seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """What to randomise; each default is a mild version of the paper's list (Sec. 3.2)."""

    flip: bool = True  # horizontal flip with probability 1/2
    rotation_deg: float = 10.0  # uniform in ±rotation_deg
    crop_scale: tuple[float, float] = (0.85, 1.0)  # side of the random crop, as a fraction
    filter_prob: float = 0.5  # chance of one random image filter (blur or sharpen)
    blur_sigma: tuple[float, float] = (0.3, 1.0)  # in pixels at the image's resolution
    color_jitter: float = 0.15  # brightness/contrast/saturation change, fraction

    @classmethod
    def none(cls) -> AugmentConfig:
        """No augmentation at all (the evaluation setting)."""
        return cls(False, 0.0, (1.0, 1.0), 0.0, (0.0, 0.0), 0.0)


@dataclass(frozen=True)
class AugmentParams:
    """One draw of the random augmentation, shared by all frames of a sample."""

    flip: bool
    angle: float  # radians, counter-clockwise on screen
    scale: float  # side of the crop window as a fraction of the image
    center: tuple[float, float]  # crop centre, normalised (x, y)
    filter: str  # "none", "blur" or "sharpen"
    sigma: float
    brightness: float
    contrast: float
    saturation: float

    @property
    def is_identity_geometry(self) -> bool:
        return not self.flip and self.angle == 0.0 and self.scale == 1.0 and self.center == (0, 0)


def sample_params(config: AugmentConfig, rng: np.random.Generator) -> AugmentParams:
    """Draw one set of augmentation parameters."""
    flip = bool(config.flip and rng.random() < 0.5)
    angle = math.radians(rng.uniform(-config.rotation_deg, config.rotation_deg))
    scale = float(rng.uniform(*config.crop_scale))
    # The crop window stays inside the image: its centre moves at most 1 - scale.
    cx, cy = rng.uniform(-(1 - scale), 1 - scale, size=2) if scale < 1 else (0.0, 0.0)
    filt = "none"
    if rng.random() < config.filter_prob:
        filt = "blur" if rng.random() < 0.5 else "sharpen"
    sigma = float(rng.uniform(*config.blur_sigma))
    b, c, s = rng.uniform(-config.color_jitter, config.color_jitter, size=3) + 1.0
    return AugmentParams(flip, angle, scale, (float(cx), float(cy)), filt, sigma, b, c, s)


def affine_matrix(params: AugmentParams, size: tuple[int, int]) -> torch.Tensor:
    """(2, 3) map from output to input normalised coordinates (``affine_grid`` convention).

    input = centre + scale · R(angle) · flip · output, with the rotation done in
    pixel units so that non-square images are not sheared.
    """
    h, w = size
    px = torch.diag(torch.tensor([(w - 1) / 2.0, (h - 1) / 2.0], dtype=torch.float64))
    cos, sin = math.cos(params.angle), math.sin(params.angle)
    rot = torch.tensor([[cos, -sin], [sin, cos]], dtype=torch.float64)
    flip = torch.diag(torch.tensor([-1.0 if params.flip else 1.0, 1.0], dtype=torch.float64))
    linear = params.scale * torch.linalg.inv(px) @ rot @ px @ flip  # (2, 2)
    shift = torch.tensor(params.center, dtype=torch.float64).unsqueeze(1)  # (2, 1)
    return torch.cat([linear, shift], dim=1).float()  # (2, 3)


def transform_points(points: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Map (..., 2) input-image points to where they land in the output image."""
    linear, shift = matrix[:, :2], matrix[:, 2]
    return (points - shift) @ torch.linalg.inv(linear).T


def warp_frames(frames: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Resample (T, C, H, W) frames with the output→input ``matrix``."""
    theta = matrix.unsqueeze(0).expand(frames.shape[0], 2, 3)  # (T, 2, 3)
    grid = F.affine_grid(theta, list(frames.shape), align_corners=True)  # (T, H, W, 2)
    # "border" repeats edge pixels into the corners a rotation uncovers; zeros
    # would paint black wedges that the translator would have to learn to copy.
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode="border", align_corners=True)


def apply_filters(frames: torch.Tensor, params: AugmentParams) -> torch.Tensor:
    """Colour jitter then blur/sharpen on (T, 3, H, W) frames in [0, 1]."""
    mean = frames.mean(dim=(1, 2, 3), keepdim=True)  # (T, 1, 1, 1)
    out = (frames - mean) * params.contrast + mean
    grey = out.mean(dim=1, keepdim=True)  # (T, 1, H, W)
    out = (out - grey) * params.saturation + grey
    out = out * params.brightness
    if params.filter != "none" and params.sigma > 0:
        blurred = gaussian_blur(out, params.sigma)
        # Unsharp mask: push the image away from its blurred version.
        out = blurred if params.filter == "blur" else out + (out - blurred)
    return out.clamp(0.0, 1.0)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) images, reflect-padded."""
    radius = max(1, math.ceil(2.5 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    out = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def augment(
    params: AugmentParams,
    frames: torch.Tensor | None = None,
    points: list[torch.Tensor] | None = None,
) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
    """Apply one augmentation to (T, 3, H, W) ``frames`` and to each (..., 2) points tensor.

    Points-only use (no frames) is what stage 2 needs for keypoint sequences;
    then the geometry is computed for a square image.
    """
    size = tuple(frames.shape[-2:]) if frames is not None else (2, 2)
    points = points or []
    if not params.is_identity_geometry:
        matrix = affine_matrix(params, size)
        if frames is not None:
            frames = warp_frames(frames, matrix)
        points = [transform_points(p, matrix) for p in points]
    if frames is not None:
        frames = apply_filters(frames, params)
    return frames, points
