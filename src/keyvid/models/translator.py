"""The keypoint-guided image translator T (paper Sec. 2, Eqs. 3-4).

T(v, k, k') encodes the reference frame v once, renders the reference and
target keypoints k, k' as Gaussian maps beside those features (the *analogy*:
the change from k to k' says how v must change) and decodes a synthesised image
s and a soft background mask m. The result is v̂ = m·v + (1 − m)·s: where m is
1 the reference pixel is copied, so s only has to draw what moves.

Ablations (config switches): ``analogy=False`` gives T only k' (the plain
conditional generator of Jakab et al. 2018); ``mask=False`` outputs s directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from keyvid.config import choices
from keyvid.models.keypoints import gaussian_maps, grid_1d
from keyvid.models.layers import conv_bn_relu, num_halvings


@dataclass
class TranslatorConfig:
    # "analogy": this module, the paper's T. "warp": keyvid.models.warp, not the paper's:
    # the reference is moved by a learnt dense flow and the decoder inpaints the rest
    # (First Order Motion Model's renderer, zero-order motions).
    kind: str = choices("analogy", "warp", default="analogy")
    num_keypoints: int = 40  # K, must match the detector
    image_size: int = 128  # paper Sec. 3.2
    channels: int = 64  # width at full resolution; doubles per halving (authors: 64..256)
    max_channels: int = 256
    feature_size: int = 32  # keypoint maps and image features meet here (authors: 32 at 128)
    sigma: float = 0.07  # Gaussian std in [-1, 1] units (authors: inverse std 14.3)
    analogy: bool = True  # False: T sees only the target keypoints (Jakab et al. 2018)
    mask: bool = True  # False: no background mask, v̂ = s
    # Not in the paper (False there): move the reference's features from each source
    # keypoint to its target keypoint before decoding, erasing them where they were
    # (the feature transport of Kulkarni et al. 2019, made an analogy: it needs only
    # the reference image). It ties the output to the keypoints from the first step.
    transport: bool = False
    # Not in the paper (False there): give every decoder stage the keypoint maps at its
    # own resolution, not only the 32×32 (here feature_size) fusion; the full-resolution
    # layers then see where each keypoint is.
    multiscale_maps: bool = False
    # Not in the paper (False there): the mask blends s with the reference *warped* by
    # the keypoints (each target keypoint's neighbourhood is fetched from around its
    # source keypoint, a fixed-weight zero-order motion field as in Monkey-Net /
    # FOMM), not with the reference itself. The copy path then moves with the
    # keypoints, so the reconstruction loss pulls them onto what moves from step 0.
    warp: bool = False
    # Not in the paper (False there): U-Net skip connections, i.e. the decoder also gets
    # the encoder's reference features at each finer resolution, moved from k to k' like
    # the coarse ones when ``transport`` is on. A keypoint on a thin limb then carries the
    # limb's own pixels to its new place, and a limb no keypoint covers is left behind and
    # costs reconstruction error: the pull that puts keypoints on what moves (Transporter).
    skips: bool = False
    warp_sigma: float = 0.1  # reach of each keypoint's motion, [-1, 1] units
    warp_background: float = 0.1  # weight of "does not move"; a keypoint wins within ~2σ
    # kind "warp" only: the dense-motion hourglass (FOMM: width 64, max 1024, 5 blocks on a
    # 64² estimate of a 256² image; a quarter of that width suffices at 64²-128² here).
    motion_channels: int = 32
    motion_max_channels: int = 128
    motion_depth: int = 3  # halvings of the hourglass: 32² -> 4² at 64² with downsample 2
    motion_downsample: int = 2  # the flow is estimated at image_size / this (FOMM: 4 at 256²)
    # 0: each keypoint's motion is a translation (Monkey-Net, FOMM's zero order). 1: a local
    # rotation and scale (FOMM's first order, as a similarity), fitted to the keypoint's
    # neighbours instead of predicted by the detector, so a frozen detector serves too: a
    # forearm's rotation then turns the bat it holds.
    motion_order: int = 0
    motion_reach: float = 0.3  # neighbours within ~this ([-1, 1] units) shape the fit
    # Strength of a fixed prior added to the mixing logits, "near k'_i moves with keypoint
    # i, far from all stays" (keyvid.models.warp.mixing_prior); 0: none, as in FOMM. Without
    # it the flow starts as the mean of all K + 1 motions and learns slowly on a CPU budget.
    motion_prior: float = 0.0


# Options that use the source keypoints k, so they are part of the analogy.
SOURCE_KEYPOINT_SWITCHES = ("transport", "warp")
# Options of the analogy translator's decoder that the warping translator has no use for
# (``multiscale_maps`` serves both: every decoder stage also sees the keypoint maps).
ANALOGY_ONLY_SWITCHES = ("transport", "warp", "skips")


def switches_needing_analogy(config: TranslatorConfig) -> list[str]:
    """The source-keypoint options switched on although ``config.analogy`` is off."""
    if config.analogy:
        return []
    return [s for s in SOURCE_KEYPOINT_SWITCHES if getattr(config, s)]


def switches_beside_warp(config: TranslatorConfig) -> list[str]:
    """Analogy-translator options switched on although ``config.kind`` is warp."""
    if config.kind != "warp":
        return []
    return [s for s in ANALOGY_ONLY_SWITCHES if getattr(config, s)]


class TranslatorOutput(NamedTuple):
    image: torch.Tensor  # (B, 3, H, W) v̂ = m·v + (1 − m)·s
    synthesized: torch.Tensor  # (B, 3, H, W) s
    mask: torch.Tensor | None  # (B, 1, H, W) m, 1 = copy the reference; None without a mask


def transport_features(
    features: torch.Tensor, source_kp: torch.Tensor, target_kp: torch.Tensor, sigma: float
) -> torch.Tensor:
    """Erase (B, C, F, F) ``features`` near both keypoint sets; paste source features at targets."""
    size = features.shape[-1]
    source_maps = gaussian_maps(source_kp, size, sigma)  # (B, K, F, F)
    target_maps = gaussian_maps(target_kp, size, sigma)
    # Soft union of the keypoint regions: 0 where any keypoint is, 1 far from all.
    keep = (1 - source_maps.amax(dim=1, keepdim=True)) * (1 - target_maps.amax(dim=1, keepdim=True))
    grid = source_kp.unsqueeze(2)  # (B, K, 1, 2)
    picked = F.grid_sample(features, grid, align_corners=True).squeeze(-1)  # (B, C, K)
    pasted = torch.einsum("bck,bkhw->bchw", picked, target_maps)  # (B, C, F, F)
    return keep * features + pasted


def warp_by_keypoints(
    images: torch.Tensor,
    source_kp: torch.Tensor,
    target_kp: torch.Tensor,
    sigma: float,
    background: float,
) -> torch.Tensor:
    """Backward-warp (B, C, H, W) ``images`` so that what was at each source keypoint
    appears at its target keypoint; pixels far from every target keypoint stay put."""
    h, w = images.shape[-2:]
    near = gaussian_maps(target_kp, (h, w), sigma)  # (B, K, H, W)
    weights = near / (near.sum(dim=1, keepdim=True) + background)  # (B, K, H, W), sum < 1
    # A target pixel near k'_i comes from the same offset around k_i.
    flow = torch.einsum("bkhw,bkc->bhwc", weights, source_kp - target_kp)  # (B, H, W, 2)
    ys, xs = torch.meshgrid(
        grid_1d(h, images.device, images.dtype),
        grid_1d(w, images.device, images.dtype),
        indexing="ij",
    )
    identity = torch.stack([xs, ys], dim=-1)  # (H, W, 2) as (x, y)
    grid = identity + flow  # (B, H, W, 2)
    return F.grid_sample(images, grid, padding_mode="border", align_corners=True)


def encoder_widths(config: TranslatorConfig) -> list[int]:
    """Channels of the image encoder at full resolution, /2, ..., feature_size."""
    n = num_halvings(config.image_size, config.feature_size)
    return [min(config.channels * 2**i, config.max_channels) for i in range(n + 1)]


def image_encoder(widths: list[int]) -> nn.Sequential:
    """A 7×7 stem at full resolution, then one stride-2 stage per further width."""
    return nn.Sequential(
        conv_bn_relu(3, widths[0], kernel=7),
        *(
            nn.Sequential(
                conv_bn_relu(widths[i], widths[i + 1], stride=2),
                conv_bn_relu(widths[i + 1], widths[i + 1]),
            )
            for i in range(len(widths) - 1)
        ),
    )


def encode_pyramid(encoder: nn.Sequential, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(B, 3, H, W) images in [0, 1] -> features after every stage of ``encoder``, finest
    first: (B, C0, H, W), (B, C1, H/2, W/2), ..., (B, Cn, F, F)."""
    x = images * 2.0 - 1.0
    features = []
    for stage in encoder:
        x = stage(x)
        features.append(x)
    return tuple(features)


def keypoint_maps(
    config: TranslatorConfig, source_kp: torch.Tensor, target_kp: torch.Tensor, size: int
) -> list[torch.Tensor]:
    """Gaussian maps of k' (and of k with the analogy) at ``size``: [(B, K, size, size)]."""
    maps = [gaussian_maps(target_kp, size, config.sigma)]
    if config.analogy:
        maps.append(gaussian_maps(source_kp, size, config.sigma))
    return maps


def decoder_block(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3×3 conv-BN-ReLU layers after a 2× upsampling (authors: 256 -> 128 -> 64)."""
    return nn.Sequential(conv_bn_relu(c_in, c_out), conv_bn_relu(c_out, c_out))


class Translator(nn.Module):
    def __init__(self, config: TranslatorConfig) -> None:
        super().__init__()
        self.config = config
        if conflicts := switches_needing_analogy(config):
            raise ValueError(f"translator {conflicts[0]}=True needs the analogy (analogy=True)")
        widths = encoder_widths(config)
        n = len(widths) - 1
        self.encoder = image_encoder(widths)  # full resolution -> feature_size
        maps = config.num_keypoints * (2 if config.analogy else 1)
        self.fuse = nn.Sequential(
            conv_bn_relu(widths[n] + maps, widths[n]), conv_bn_relu(widths[n], widths[n])
        )
        # Decoder: 2× upsampling blocks back to full resolution (authors: 256 -> 128 -> 64).
        extra = maps if config.multiscale_maps else 0
        self.decoder = nn.ModuleList(
            decoder_block(widths[i + 1] + extra + (widths[i] if config.skips else 0), widths[i])
            for i in reversed(range(n))
        )
        self.head = nn.Conv2d(widths[0], 4 if config.mask else 3, kernel_size=3, padding=1)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(B, 3, H, W) images in [0, 1] -> features at every encoder resolution, finest
        first: (B, C0, H, W), (B, C1, H/2, W/2), ..., (B, Cn, F, F); reusable across targets.
        """
        return encode_pyramid(self.encoder, images)

    def _reference(
        self, features: torch.Tensor, source_kp: torch.Tensor, target_kp: torch.Tensor
    ) -> torch.Tensor:
        """Reference features as the decoder sees them: moved from k to k' with transport."""
        if self.config.transport:
            return transport_features(features, source_kp, target_kp, self.config.sigma)
        return features

    def render(
        self,
        features: tuple[torch.Tensor, ...],
        source_kp: torch.Tensor,
        target_kp: torch.Tensor,
    ) -> tuple:
        """Features of v (from :meth:`encode`) plus keypoints (B, K, 2) -> (s, m) at full
        resolution."""
        coarse = features[-1]  # (B, C, F, F)
        maps = keypoint_maps(self.config, source_kp, target_kp, coarse.shape[-1])
        x = self.fuse(torch.cat([self._reference(coarse, source_kp, target_kp), *maps], dim=1))
        for block, skip in zip(self.decoder, reversed(features[:-1]), strict=True):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            if self.config.skips:
                x = torch.cat([x, self._reference(skip, source_kp, target_kp)], dim=1)
            if self.config.multiscale_maps:
                x = torch.cat(
                    [x, *keypoint_maps(self.config, source_kp, target_kp, x.shape[-1])], dim=1
                )
            x = block(x)
        out = self.head(x)  # (B, 4, H, W) or (B, 3, H, W)
        synthesized = torch.sigmoid(out[:, :3])
        mask = torch.sigmoid(out[:, 3:4]) if self.config.mask else None
        return synthesized, mask

    def forward(
        self,
        images: torch.Tensor,
        source_kp: torch.Tensor,
        target_kp: torch.Tensor,
        features: tuple[torch.Tensor, ...] | None = None,
    ) -> TranslatorOutput:
        """Translate reference ``images`` from ``source_kp`` to ``target_kp``.

        Pass ``features = encode(images)`` to reuse one encoding for many targets.
        """
        if features is None:
            features = self.encode(images)
        s, m = self.render(features, source_kp, target_kp)
        if m is None:
            return TranslatorOutput(s, s, None)
        base = images
        if self.config.warp:
            c = self.config
            base = warp_by_keypoints(images, source_kp, target_kp, c.warp_sigma, c.warp_background)
        out = m * base + (1 - m) * s
        return TranslatorOutput(out, s, m)
