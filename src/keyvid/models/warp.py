"""The warping translator T (``translator.kind: warp``): move the reference, then inpaint.

Not the paper's analogy translator but the same contract, T(v, k, k') -> (v̂, s, m), built
the way First Order Motion Model renders (Siarohin et al., NeurIPS 2019; zero-order
motions; learnt from its description, not copied):

1. Sparse motions. Keypoint i's backward map from the target frame to the reference is
   T_i(z) = k_i + J_i (z − k'_i) with J_i = I (zero order, ``motion_order: 0``) or a local
   rotation and scale fitted to the neighbouring keypoints (``motion_order: 1``, FOMM's
   first order without the detector's Jacobians);
   T_0(z) = z is the background: K + 1 candidate flows.
2. Dense motion. An hourglass sees the Gaussian-map differences G(k') − G(k) and the
   reference v deformed by every T_i. A softmax over its K + 1 output channels gives
   weights M_i(z); the dense flow is T(z) = Σ_i M_i(z)·T_i(z). A sigmoid head gives the
   occlusion map O(z) ∈ [0, 1]: 1 where v shows what belongs at z.
3. Render. The encoder features of v at every scale are sampled at T and multiplied by O,
   then decoded by a U-Net, so the decoder only inpaints what v cannot show. Its head
   gives s and a mask m over v sampled at T: v̂ = m·(v∘T) + (1 − m)·s. With
   ``multiscale_maps`` every decoder stage also sees G(k') and G(k), so s can draw a part
   at its target pose where the keypoints' motions cannot carry it (the analogy, inside).

Why: the analogy translator redraws moving limbs from Gaussian maps and blurs them; here
a limb's own pixels are carried to where its keypoints went (DESIGN.md, "Beyond the paper").
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from keyvid.models.keypoints import gaussian_maps, grid_1d
from keyvid.models.layers import conv_bn_relu
from keyvid.models.translator import (
    TranslatorConfig,
    TranslatorOutput,
    decoder_block,
    encode_pyramid,
    encoder_widths,
    image_encoder,
    keypoint_maps,
)


class DenseMotionOutput(NamedTuple):
    flow: torch.Tensor  # (B, h, w, 2) T(z): where in v each target pixel comes from, (x, y)
    occlusion: torch.Tensor  # (B, 1, h, w) O, 1 = v shows it
    weights: torch.Tensor  # (B, K + 1, h, w) M, softmax over background + keypoints


def identity_grid(h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    """(h, w, 2) pixel-centre coordinates (x, y) in [-1, 1] (``keyvid.coords``)."""
    ys, xs = torch.meshgrid(
        grid_1d(h, like.device, like.dtype), grid_1d(w, like.device, like.dtype), indexing="ij"
    )
    return torch.stack([xs, ys], dim=-1)


# Weight of "no deformation" in each fit: a keypoint far from every other keeps J = I.
# Neighbour offsets are ~0.1-0.5 units, so one neighbour outweighs it 10-250×.
SIMILARITY_PRIOR = 1e-3


def local_similarity(
    source_kp: torch.Tensor, target_kp: torch.Tensor, reach: float
) -> torch.Tensor:
    """(B, K, 2, 2) maps J_i = [[a, −b], [b, a]] (a rotation and a scale) taking offsets
    around k'_i to offsets around k_i, fitted to the other keypoints j.

    Weighted least squares, w_ij = exp(−|d'_j|² / 2 reach²) with d = k_j − k_i and
    d' = k'_j − k'_i: a = (Σ w d'·d + λ) / (Σ w |d'|² + λ), b = Σ w (d' × d) / (Σ w |d'|² + λ),
    λ = SIMILARITY_PRIOR. A similarity, not FOMM's full affine map: one neighbour (an
    elbow for a wrist) fixes it, where an affine map would need two off one line.
    """
    d_target = target_kp[:, None] - target_kp[:, :, None]  # (B, K, K, 2): k'_j − k'_i
    d_source = source_kp[:, None] - source_kp[:, :, None]  # (B, K, K, 2): k_j − k_i
    norm = d_target.pow(2).sum(-1)  # (B, K, K) |d'|²; 0 for j = i, which then adds nothing
    w = torch.exp(-norm / (2 * reach**2))
    dot = (d_target * d_source).sum(-1)  # (B, K, K) d'·d
    cross = d_target[..., 0] * d_source[..., 1] - d_target[..., 1] * d_source[..., 0]
    denominator = (w * norm).sum(-1) + SIMILARITY_PRIOR  # (B, K)
    a = ((w * dot).sum(-1) + SIMILARITY_PRIOR) / denominator
    b = (w * cross).sum(-1) / denominator
    return torch.stack([torch.stack([a, -b], -1), torch.stack([b, a], -1)], -2)


def sparse_motions(
    source_kp: torch.Tensor,
    target_kp: torch.Tensor,
    size: tuple[int, int],
    jacobians: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B, K, 2) keypoints -> (B, K + 1, h, w, 2) candidate flows: the identity, then
    T_i(z) = k_i + J_i (z − k'_i) for every keypoint; without (B, K, 2, 2) ``jacobians``,
    J_i = I (zero order: a translation each)."""
    z = identity_grid(*size, like=source_kp)  # (h, w, 2)
    offset = z - target_kp[:, :, None, None]  # (B, K, h, w, 2): z − k'_i
    if jacobians is not None:
        offset = torch.einsum("bkcd,bkhwd->bkhwc", jacobians, offset)
    per_keypoint = source_kp[:, :, None, None] + offset  # (B, K, h, w, 2)
    background = z.expand(len(source_kp), 1, *z.shape)  # (B, 1, h, w, 2)
    return torch.cat([background, per_keypoint], dim=1)


def sample(features: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) ``features`` read at (B, h, w, 2) ``flow`` -> (B, C, h, w)."""
    return F.grid_sample(features, flow, padding_mode="border", align_corners=True)


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, h, w, 2) flow -> (B, *size, 2); coordinates are resolution-free, so only resampled."""
    if tuple(flow.shape[1:3]) == tuple(size):
        return flow
    resized = F.interpolate(
        flow.permute(0, 3, 1, 2), size=size, mode="bilinear", align_corners=True
    )
    return resized.permute(0, 2, 3, 1)


def mixing_prior(
    target_kp: torch.Tensor, size: tuple[int, int], sigma: float, strength: float
) -> torch.Tensor:
    """(B, K + 1, h, w) logits of "a pixel near k'_i moves with keypoint i, a pixel far from
    every keypoint stays": τ(G_i(z) − 1) for keypoint i, −τ/4 for the background (τ =
    ``strength``). At τ = 8 and K = 16 a pixel on k'_i gets 0.88 of its weight from keypoint
    i, and one far from all keypoints 0.96 from the background (the fixed field of the
    analogy translator's ``warp`` switch, Monkey-Net's, made a starting point)."""
    near = gaussian_maps(target_kp, size, sigma)  # (B, K, h, w) in [0, 1]
    background = torch.full_like(near[:, :1], -strength / 4)
    return torch.cat([background, strength * (near - 1)], dim=1)


class Hourglass(nn.Module):
    """A U-Net that keeps its input's resolution: (B, C_in, h, w) -> (B, out_channels, h, w).

    Down: conv-BN-ReLU then 2× average pooling, ``depth`` times; up: 2× nearest, conv-BN-ReLU,
    concatenated with the same-resolution features on the way down (FOMM's hourglass)."""

    def __init__(self, c_in: int, channels: int, max_channels: int, depth: int) -> None:
        super().__init__()
        widths = [min(channels * 2 ** (i + 1), max_channels) for i in range(depth)]
        skips = [c_in, *widths[:-1]]  # what waits at each resolution on the way down
        self.down = nn.ModuleList(conv_bn_relu(c, w) for c, w in zip(skips, widths, strict=True))
        outs = [channels, *widths[:-1]]  # up-block widths, finest resolution first
        ups, c = [], widths[-1]
        for skip, out in zip(reversed(skips), reversed(outs), strict=True):
            ups.append(conv_bn_relu(c, out))
            c = out + skip
        self.up = nn.ModuleList(ups)
        self.out_channels = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            skips.append(x)
            x = F.avg_pool2d(block(x), 2)
        for block in self.up:
            x = block(F.interpolate(x, scale_factor=2.0, mode="nearest"))
            x = torch.cat([x, skips.pop()], dim=1)
        return x


class DenseMotion(nn.Module):
    """v, k, k' -> dense backward flow, occlusion map and the mixing weights (step 2)."""

    def __init__(self, config: TranslatorConfig) -> None:
        super().__init__()
        self.config = config
        k1 = config.num_keypoints + 1
        # Per candidate motion: its heatmap difference (1) and v deformed by it (3).
        self.hourglass = Hourglass(
            4 * k1, config.motion_channels, config.motion_max_channels, config.motion_depth
        )
        self.mixing = nn.Conv2d(self.hourglass.out_channels, k1, kernel_size=7, padding=3)
        if config.motion_prior > 0:  # start from the prior alone; the network learns the rest
            nn.init.zeros_(self.mixing.weight)
            nn.init.zeros_(self.mixing.bias)
        self.occlusion = nn.Conv2d(self.hourglass.out_channels, 1, kernel_size=7, padding=3)

    def forward(
        self, images: torch.Tensor, source_kp: torch.Tensor, target_kp: torch.Tensor
    ) -> DenseMotionOutput:
        c = self.config
        small = F.avg_pool2d(images, c.motion_downsample) if c.motion_downsample > 1 else images
        b, _, h, w = small.shape  # (B, 3, h, w)
        jacobians = None
        if c.motion_order == 1:
            jacobians = local_similarity(source_kp, target_kp, c.motion_reach)  # (B, K, 2, 2)
        motions = sparse_motions(source_kp, target_kp, (h, w), jacobians)  # (B, K+1, h, w, 2)
        k1 = motions.shape[1]
        deformed = sample(small.repeat_interleave(k1, dim=0), motions.flatten(0, 1)).view(
            b, k1, 3, h, w
        )  # v moved by each candidate motion
        heat = gaussian_maps(target_kp, (h, w), c.sigma) - gaussian_maps(source_kp, (h, w), c.sigma)
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], dim=1)  # (B, K+1, h, w)
        x = torch.cat([heat.unsqueeze(2), deformed], dim=2).flatten(1, 2)  # (B, 4(K+1), h, w)
        features = self.hourglass(x)
        logits = self.mixing(features)  # (B, K+1, h, w)
        if c.motion_prior > 0:
            logits = logits + mixing_prior(target_kp, (h, w), c.sigma, c.motion_prior)
        weights = logits.softmax(dim=1)
        flow = torch.einsum("bkhw,bkhwc->bhwc", weights, motions)  # (B, h, w, 2)
        return DenseMotionOutput(flow, torch.sigmoid(self.occlusion(features)), weights)


class WarpTranslator(nn.Module):
    """T(v, k, k') by warping: encoder, dense motion, warped U-Net decoder (steps 1-3)."""

    def __init__(self, config: TranslatorConfig) -> None:
        super().__init__()
        self.config = config
        widths = encoder_widths(config)
        self.encoder = image_encoder(widths)  # full resolution -> feature_size
        self.dense_motion = DenseMotion(config)
        self.bottleneck = nn.Sequential(
            conv_bn_relu(widths[-1], widths[-1]), conv_bn_relu(widths[-1], widths[-1])
        )
        # Each decoder stage: 2× up, concatenated with the warped features of that scale
        # (and the keypoint maps at that scale with multiscale_maps).
        maps = config.num_keypoints * (2 if config.analogy else 1) * config.multiscale_maps
        self.decoder = nn.ModuleList(
            decoder_block(widths[i + 1] + widths[i] + maps, widths[i])
            for i in reversed(range(len(widths) - 1))
        )
        self.head = nn.Conv2d(widths[0], 4 if config.mask else 3, kernel_size=3, padding=1)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(B, 3, H, W) images in [0, 1] -> encoder features at every scale, finest first;
        reusable across targets."""
        return encode_pyramid(self.encoder, images)

    def forward(
        self,
        images: torch.Tensor,
        source_kp: torch.Tensor,
        target_kp: torch.Tensor,
        features: tuple[torch.Tensor, ...] | None = None,
    ) -> TranslatorOutput:
        """Translate reference ``images`` (B, 3, H, W) from ``source_kp`` to ``target_kp``
        (B, K, 2). Pass ``features = encode(images)`` to reuse one encoding."""
        if features is None:
            features = self.encode(images)
        motion = self.dense_motion(images, source_kp, target_kp)
        flows: dict[tuple, torch.Tensor] = {}  # the flow at each size, resized once

        def flow_at(size: tuple) -> torch.Tensor:  # (B, *size, 2)
            if size not in flows:
                flows[size] = resize_flow(motion.flow, size)
            return flows[size]

        def warped(x: torch.Tensor) -> torch.Tensor:  # (B, C, h, w) features of v, at T, · O
            size = tuple(x.shape[-2:])
            occlusion = F.interpolate(
                motion.occlusion, size=size, mode="bilinear", align_corners=True
            )
            return sample(x, flow_at(size)) * occlusion

        x = self.bottleneck(warped(features[-1]))  # (B, Cn, F, F)
        for block, skip in zip(self.decoder, reversed(features[:-1]), strict=True):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            maps = []
            if self.config.multiscale_maps:
                maps = keypoint_maps(self.config, source_kp, target_kp, x.shape[-1])
            x = block(torch.cat([x, warped(skip), *maps], dim=1))
        out = self.head(x)  # (B, 4, H, W) or (B, 3, H, W)
        synthesized = torch.sigmoid(out[:, :3])
        if not self.config.mask:
            return TranslatorOutput(synthesized, synthesized, None)
        mask = torch.sigmoid(out[:, 3:4])  # (B, 1, H, W)
        moved = sample(images, flow_at(tuple(images.shape[-2:])))  # v∘T
        return TranslatorOutput(mask * moved + (1 - mask) * synthesized, synthesized, mask)
