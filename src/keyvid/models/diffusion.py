"""A keypoint-sequence diffusion model: the motion generator M as a denoiser.

After MDM (Tevet et al., "Human Motion Diffusion Model", ICLR 2023). The clean
sample is a segment's offsets from its first keypoints, x0 = (k1:T − k0) / σ_data,
(B, T, 2K), with σ_data measured on the training pseudo-labels. Forward process
(Ho et al. 2020) with the cosine schedule (Nichol & Dhariwal 2021):

    x_t = sqrt(ᾱ_t)·x0 + sqrt(1 − ᾱ_t)·ε,    ε ~ N(0, I)

A transformer F over the T frames, with one token for the condition
(timestep t, first keypoints k0, action a) in front, predicts x0 itself (MDM), or
v = sqrt(ᾱ_t)·ε − sqrt(1 − ᾱ_t)·x0 (``parametrization: v``, Salimans & Ho 2022):

    x̂0 = D(x_t, t, k0, a) = F(x_t, t, k0, a)                          (x0)
    x̂0 = D(x_t, t, k0, a) = sqrt(ᾱ_t)·x_t − sqrt(1 − ᾱ_t)·F(x_t, t, k0, a)    (v)

Training drops a to "no action" with probability ``action_dropout``; sampling
mixes the two predictions with classifier-free guidance (Ho & Salimans 2022):

    x̂0 = D(x_t, t, k0, ∅) + s·(D(x_t, t, k0, a) − D(x_t, t, k0, ∅))

and takes ``sample_steps`` deterministic DDIM steps (Song et al. 2021, η = 0):

    ε̂ = (x_t − sqrt(ᾱ_t)·x̂0) / sqrt(1 − ᾱ_t),    x_t' = sqrt(ᾱ_t')·x̂0 + sqrt(1 − ᾱ_t')·ε̂

so the starting noise x_T is the only randomness: same seed, same motion.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from keyvid.models.motion import MotionGeneratorConfig, SegmentSampler, standard_normal


def cosine_alphas_cumprod(timesteps: int, offset: float = 0.008) -> torch.Tensor:
    """ᾱ_t for t = 0 .. timesteps-1 (Nichol & Dhariwal 2021, Eq. 17; s = 0.008), (timesteps,).

    β_t is clipped to 0.999 as in their code, so ᾱ at the last step is tiny but not 0.
    """
    steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((steps + offset) / (1 + offset) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, dim=0).float()


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """(B,) integer timesteps -> (B, dim) sinusoidal features (Vaswani et al. 2017)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([angles.cos(), angles.sin()], dim=1)


def sampling_timesteps(timesteps: int, steps: int) -> list[int]:
    """The ``steps`` noise levels DDIM visits, from the noisiest (timesteps-1) down to 0."""
    return torch.linspace(timesteps - 1, 0, steps).round().long().unique_consecutive().tolist()


class DiffusionMotionGenerator(SegmentSampler):
    """Denoiser D(x_t, t, k0, a) -> x̂0 over (B, length, 2K) normalised offsets."""

    def __init__(self, config: MotionGeneratorConfig) -> None:
        super().__init__(config)
        d = config.diffusion
        points = config.num_keypoints * 2
        self.frame_in = nn.Linear(points, d.width)
        self.position = nn.Parameter(torch.zeros(1, config.length + 1, d.width))  # learnt
        nn.init.normal_(self.position, std=0.02)
        self.time_in = nn.Sequential(
            nn.Linear(d.width, d.width), nn.SiLU(), nn.Linear(d.width, d.width)
        )
        self.k0_in = nn.Linear(points, d.width)
        # One extra row: the "no action" token of classifier-free guidance.
        self.action_in = nn.Embedding(config.num_actions + 1, d.width) if config.action else None
        layer = nn.TransformerEncoderLayer(
            d.width, d.heads, 4 * d.width, dropout=0.1, activation="gelu",
            batch_first=True, norm_first=True,
        )  # fmt: skip
        # Nested-tensor fast path only applies to post-norm layers; say so once, here.
        self.transformer = nn.TransformerEncoder(layer, d.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d.width)
        self.frame_out = nn.Linear(d.width, points)
        self.register_buffer("alphas_cumprod", cosine_alphas_cumprod(d.timesteps), persistent=False)
        # σ_data: the spread of training offsets, set by the trainer before step 0
        # (``set_offset_scale``) and saved with the weights.
        self.register_buffer("offset_scale", torch.ones(()))

    @property
    def null_action(self) -> int:
        return self.config.num_actions

    def set_offset_scale(self, sequences: torch.Tensor) -> None:
        """σ_data from (N, T+1, K, 2) training sequences: the RMS of k1:T − k0."""
        offsets = sequences[:, 1:] - sequences[:, :1]
        self.offset_scale.fill_(float(offsets.pow(2).mean().sqrt().clamp(min=1e-4)))

    def to_clean(self, k0: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        """(B, K, 2) k0 and (B, T, K, 2) future -> x0 (B, T, 2K), the normalised offsets."""
        return (future - k0[:, None]).flatten(2) / self.offset_scale

    def from_clean(self, k0: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """x0 (B, T, 2K) -> keypoints (B, T, K, 2)."""
        b, t = x0.shape[:2]
        return k0[:, None] + (x0 * self.offset_scale).view(b, t, -1, 2)

    def add_noise(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(ᾱ_t)·x0 + sqrt(1 − ᾱ_t)·ε for (B,) timesteps t."""
        ab = self.alphas_cumprod[t].view(-1, 1, 1)  # (B, 1, 1)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def forward(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor,
        k0: torch.Tensor,
        action: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x̂0 (B, T, 2K) from noisy x_t (B, T, 2K), timesteps t (B,), k0 (B, K, 2) and
        action indices (B,) (``null_action`` for "none"; ignored without the condition)."""
        width = self.config.diffusion.width
        token = self.time_in(timestep_embedding(t, width)) + self.k0_in(k0.flatten(1))  # (B, W)
        if self.action_in is not None:
            self.check_action(action)
            token = token + self.action_in(action.long())
        frames = self.frame_in(x_t)  # (B, T, W)
        h = torch.cat([token[:, None], frames], dim=1) + self.position[:, : x_t.shape[1] + 1]
        h = self.norm(self.transformer(h))  # (B, 1 + T, W)
        out = self.frame_out(h[:, 1:])  # (B, T, 2K)
        if self.config.diffusion.parametrization == "x0":
            return out
        ab = self.alphas_cumprod[t].view(-1, 1, 1)  # (B, 1, 1)
        return ab.sqrt() * x_t - (1 - ab).sqrt() * out  # x̂0 from v̂

    def guided(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor,
        k0: torch.Tensor,
        action: torch.Tensor | None,
        guidance: float,
    ) -> torch.Tensor:
        """x̂0 with classifier-free guidance; one batched call for both predictions."""
        if self.action_in is None or guidance == 1:
            return self(x_t, t, k0, action)
        none = torch.full_like(action, self.null_action)
        both = self(x_t.repeat(2, 1, 1), t.repeat(2), k0.repeat(2, 1, 1), torch.cat([action, none]))
        conditioned, unconditioned = both.chunk(2)
        return unconditioned + guidance * (conditioned - unconditioned)

    def sample_segment(
        self,
        start: torch.Tensor,
        action: torch.Tensor | None,
        generator: torch.Generator | None,
        guidance: float | None,
    ) -> torch.Tensor:
        """One segment by deterministic DDIM from x_T ~ N(0, I) (module docstring)."""
        d = self.config.diffusion
        s = d.guidance if guidance is None else float(guidance)
        b, points = start.shape[0], self.config.num_keypoints * 2
        x = standard_normal((b, self.config.length, points), generator, start)  # x_T
        schedule = sampling_timesteps(d.timesteps, d.sample_steps)
        for i, step in enumerate(schedule):
            t = torch.full((b,), step, dtype=torch.long, device=start.device)
            x0 = self.guided(x, t, start, action, s)
            if i + 1 == len(schedule):
                x = x0
                break
            ab, ab_next = self.alphas_cumprod[step], self.alphas_cumprod[schedule[i + 1]]
            eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()
            x = ab_next.sqrt() * x0 + (1 - ab_next).sqrt() * eps
        return self.from_clean(start, x)
