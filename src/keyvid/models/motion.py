"""Stage 2 networks: the motion generator M and the sequence discriminator D_seq.

M is a conditional VAE on keypoint sequences (paper Sec. 2, Eq. 5): an LSTM
encoder reads the pseudo-label sequence k1:T with its conditions (first-frame
keypoints k0 and the one-hot action a) into q(z | k1:T, k0, a); an LSTM decoder
turns z and the conditions back into k1:T. At inference z ~ N(0, I), so each
draw is another future. As in the authors' code the decoder gets FC([z, k0, a])
at the first step and zeros after, and an LSTM of 2 × 1024 units.

``model.generator.kind: diffusion`` replaces the cVAE by a denoising diffusion model
over the same sequences (``keyvid.models.diffusion``); both sample through
``SegmentSampler.sample``, so every caller treats them alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from keyvid.config import choices, propagate_shared, shared
from keyvid.errors import KeyvidError


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor | None = None
) -> torch.Tensor:
    """z = mu + eps * sigma with eps ~ N(0, I) (drawn here unless given): differentiable in
    mu and logvar (Kingma & Welling 2014)."""
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + eps * (0.5 * logvar).exp()


@dataclass
class DiffusionConfig:
    """The diffusion generator's own settings (``model.generator.kind: diffusion``).

    After MDM (Tevet et al., ICLR 2023): a transformer predicts the clean sequence,
    the action is dropped at random for classifier-free guidance, deterministic DDIM
    sampling in few steps. Sizes are MDM's scaled to a sequence of 32 × 2K numbers.
    """

    width: int = 128  # transformer width (MDM: 512)
    depth: int = 4  # transformer layers (MDM: 8)
    heads: int = 4  # attention heads (MDM: 4)
    timesteps: int = 1000  # noise levels in training, cosine schedule (MDM: 1000)
    sample_steps: int = 20  # deterministic DDIM steps per segment (issue 23: at most 50)
    action_dropout: float = 0.1  # P(action replaced by "none") in training (MDM: 0.1)
    # What the network outputs: x0 itself (MDM), or v = sqrt(ᾱ)·ε − sqrt(1 − ᾱ)·x0
    # (Salimans & Ho 2022), from which x̂0 = sqrt(ᾱ)·x_t − sqrt(1 − ᾱ)·v̂: at low noise x̂0
    # is then x_t plus a small correction instead of a copy the network must learn.
    parametrization: str = choices("x0", "v", default="x0")
    # Classifier-free guidance scale (MDM: 2.5): 1 samples the action-conditioned model,
    # 0 the unconditioned one, above 1 pushes towards the action. --guidance overrides it.
    guidance: float = 2.5


@dataclass
class MotionGeneratorConfig:
    kind: str = choices("cvae", "diffusion", default="cvae")  # the paper's cVAE, or diffusion
    num_keypoints: int = 40  # K, must match the stage-1 detector
    num_actions: int = 9  # one-hot size (Penn Action's 9 classes)
    action: bool = True  # False: condition on k0 only ("w/o a" ablation; UvA-NEMO, MGIF)
    length: int = 32  # future frames per training sequence (authors' code: 33 with k0)
    # -- the cVAE (kind: cvae) --
    hidden: int = 1024  # LSTM units, encoder and decoder (authors' code)
    layers: int = 2  # stacked LSTM layers (authors' code)
    latent: int = 64  # size of z (authors' code)
    # What the decoder LSTM reads: FC([z, k0, a]) at the first step and zeros after
    # ("first", authors' code), or at every step ("every": learns ~1.5× faster on CPU,
    # docs/stage2-motion.md).
    decoder_input: str = choices("first", "every", default="first")
    # The prior of z: N(0, I) ("standard", paper Sec. 2) or N(mu(k0, a), sigma(k0, a))
    # learnt beside the encoder ("learned", as in SVG-LP, Denton & Fergus 2018).
    prior: str = choices("standard", "learned", default="standard")
    # Not in the paper: at each checkpoint, measure per action how far sampled keypoints
    # travel from k0 against the training pseudo-labels, and scale sampled offsets by
    # that ratio (``travel_scale``). A cVAE sample regresses towards the mean motion:
    # ours moved quiet arm actions 55-85 % as far as the data (docs/stage2-motion.md).
    calibrate_travel: bool = False
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)


@dataclass
class SequenceDiscriminatorConfig:
    num_keypoints: int = 40
    num_actions: int = 9
    hidden: int = 1024  # authors' code
    layers: int = 2
    # Not in the paper (False there: D_seq sees k1:T only): also give it k0 and the
    # one-hot action at every step, so it judges "is this a squat from this pose".
    conditional: bool = False


@dataclass
class Stage2ModelConfig:
    """The networks of stage 2; values that must agree are set here once.

    ``actions`` names the classes in one-hot order; it travels with the
    checkpoint so that inference can take an action by name.
    """

    num_keypoints: int = shared(40, into=("generator", "discriminator"))
    actions: tuple[str, ...] = ()
    generator: MotionGeneratorConfig = field(default_factory=MotionGeneratorConfig)
    discriminator: SequenceDiscriminatorConfig = field(default_factory=SequenceDiscriminatorConfig)

    def __post_init__(self) -> None:
        propagate_shared(self)
        if self.actions:
            self.generator.num_actions = len(self.actions)
            self.discriminator.num_actions = len(self.actions)
        d = self.generator.diffusion
        if not 1 <= d.sample_steps <= d.timesteps:
            raise KeyvidError(
                f"model.generator.diffusion.sample_steps is {d.sample_steps}; use 1 to "
                f"timesteps ({d.timesteps})"
            )
        if not 0 <= d.action_dropout < 1:
            raise KeyvidError(
                f"model.generator.diffusion.action_dropout is {d.action_dropout}; use a "
                "probability below 1 (MDM: 0.1)"
            )
        if d.width % d.heads:
            raise KeyvidError(
                f"model.generator.diffusion.width {d.width} must be a multiple of heads {d.heads}"
            )
        if d.guidance < 0:
            raise KeyvidError(f"model.generator.diffusion.guidance must be >= 0, got {d.guidance}")


class SegmentSampler(nn.Module):
    """What every motion generator shares: the condition [k0, a], the per-action travel
    factors, and sampling a sequence of any length segment by segment.

    A subclass sets ``config`` and implements ``sample_segment``.
    """

    config: MotionGeneratorConfig

    def __init__(self, config: MotionGeneratorConfig) -> None:
        super().__init__()
        self.config = config
        # Per-action factor on sampled offsets (one factor without the action condition);
        # 1 until measured (``keyvid.metrics.motion.travel_scales``). Saved with the weights.
        scales = config.num_actions if config.action else 1
        self.register_buffer("travel_scale", torch.ones(scales))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # Checkpoints from before travel calibration hold no scale: they sample unscaled.
        state_dict.setdefault(prefix + "travel_scale", torch.ones_like(self.travel_scale))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def check_action(self, action: torch.Tensor | None) -> None:
        if self.config.action and action is None:
            raise ValueError("this motion generator is conditioned on an action; pass one")

    def condition(self, k0: torch.Tensor, action: torch.Tensor | None) -> torch.Tensor:
        """(B, K, 2) first keypoints and (B,) action indices -> (B, 2K [+ A]) condition."""
        parts = [k0.flatten(1)]
        if self.config.action:
            self.check_action(action)
            parts.append(F.one_hot(action.long(), self.config.num_actions).to(k0.dtype))
        return torch.cat(parts, dim=1)

    def sample_segment(
        self,
        start: torch.Tensor,
        action: torch.Tensor | None,
        generator: torch.Generator | None,
        guidance: float | None,
    ) -> torch.Tensor:
        """(B, K, 2) start keypoints -> (B, length, K, 2) raw sampled keypoints."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(
        self,
        k0: torch.Tensor,
        action: torch.Tensor | None,
        frames: int,
        generator: torch.Generator | None = None,
        *,
        scale: float | None = None,
        guidance: float | None = None,
    ) -> torch.Tensor:
        """(B, K, 2) first keypoints -> (B, frames, K, 2) future keypoints.

        The offsets from the segment's start are multiplied by ``scale``, or by the
        action's measured ``travel_scale`` when None (1.0: the raw samples). Longer than
        the training length, the sequence continues in segments: each starts from the
        last keypoints of the one before with fresh noise. ``guidance`` is the diffusion
        generator's classifier-free guidance scale (None: its configured default).
        """
        self.check_action(action)
        if scale is not None:
            factor = k0.new_full((k0.shape[0], 1, 1, 1), float(scale))
        else:
            per_action = self.config.action and action is not None
            index = action.long() if per_action else k0.new_zeros(k0.shape[0], dtype=torch.long)
            factor = self.travel_scale.to(k0)[index].view(-1, 1, 1, 1)  # (B, 1, 1, 1)
        out, start = [], k0
        for done in range(0, frames, self.config.length):
            n = min(self.config.length, frames - done)
            segment = self.sample_segment(start, action, generator, guidance)[:, :n]
            segment = start[:, None] + factor * (segment - start[:, None])  # (B, n, K, 2)
            out.append(segment)
            start = segment[:, -1]
        return torch.cat(out, dim=1)


def standard_normal(
    shape: tuple[int, ...], generator: torch.Generator | None, like: torch.Tensor
) -> torch.Tensor:
    """N(0, I) noise drawn where ``generator`` lives (a CPU generator gives the same numbers
    on any device), returned on ``like``'s device and dtype."""
    where = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=where).to(like)


class MotionGenerator(SegmentSampler):
    """cVAE over keypoint sequences; all keypoints are (x, y) in [-1, 1]."""

    def __init__(self, config: MotionGeneratorConfig) -> None:
        super().__init__(config)
        c = config
        points = c.num_keypoints * 2
        cond = points + (c.num_actions if c.action else 0)  # [k0, a]
        self.encoder = nn.LSTM(points + cond, c.hidden, c.layers, batch_first=True)
        self.to_posterior = nn.Linear(c.hidden, 2 * c.latent)  # -> (mu, log variance)
        self.decoder_input = nn.Linear(c.latent + cond, c.hidden)
        self.decoder = nn.LSTM(c.hidden, c.hidden, c.layers, batch_first=True)
        self.to_offsets = nn.Linear(c.hidden, points)
        self.prior_net = None
        if c.prior == "learned":
            self.prior_net = nn.Sequential(
                nn.Linear(cond, c.hidden), nn.ReLU(), nn.Linear(c.hidden, 2 * c.latent)
            )
            nn.init.zeros_(self.prior_net[-1].weight)  # starts as N(0, I)
            nn.init.zeros_(self.prior_net[-1].bias)
        # Start as "stand still" (offsets 0): the decoder then learns motion as a
        # change from k0 instead of first learning where the body is.
        nn.init.zeros_(self.to_offsets.weight)
        nn.init.zeros_(self.to_offsets.bias)

    def prior(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C) condition -> the prior's mu, logvar, each (B, latent); zeros for N(0, I)."""
        if self.prior_net is None:
            zeros = cond.new_zeros(cond.shape[0], self.config.latent)
            return zeros, zeros
        mu, logvar = self.prior_net(cond).chunk(2, dim=1)
        return mu, logvar

    def encode(self, sequence: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(B, T, K, 2) future keypoints + (B, C) condition -> mu, logvar, each (B, latent)."""
        b, t = sequence.shape[:2]
        x = torch.cat([sequence.reshape(b, t, -1), cond[:, None].expand(b, t, -1)], dim=2)
        _, (h, _) = self.encoder(x)  # h: (layers, B, hidden)
        mu, logvar = self.to_posterior(h[-1]).chunk(2, dim=1)
        return mu, logvar

    def decode(
        self, z: torch.Tensor, k0: torch.Tensor, cond: torch.Tensor, frames: int
    ) -> torch.Tensor:
        """z (B, latent) -> (B, frames, K, 2) keypoints, as offsets from k0."""
        b = z.shape[0]
        first = self.decoder_input(torch.cat([z, cond], dim=1))  # (B, hidden)
        if self.config.decoder_input == "every":
            x = first[:, None].expand(b, frames, -1)  # (B, frames, hidden)
        else:
            x = torch.cat([first[:, None], first.new_zeros(b, frames - 1, first.shape[1])], 1)
        h, _ = self.decoder(x)  # (B, frames, hidden)
        offsets = self.to_offsets(h).view(b, frames, -1, 2)  # (B, frames, K, 2)
        return k0[:, None] + offsets

    def forward(
        self, k0: torch.Tensor, sequence: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruct ``sequence`` (B, T, K, 2) through the posterior: (k̃1:T, mu, logvar)."""
        cond = self.condition(k0, action)
        mu, logvar = self.encode(sequence, cond)
        z = reparameterize(mu, logvar)
        return self.decode(z, k0, cond, sequence.shape[1]), mu, logvar

    def sample_segment(
        self,
        start: torch.Tensor,
        action: torch.Tensor | None,
        generator: torch.Generator | None,
        guidance: float | None,
    ) -> torch.Tensor:
        """One segment decoded from z ~ the prior (``guidance`` is for diffusion only)."""
        if guidance is not None:
            raise ValueError("guidance applies to diffusion motion generators, not the cVAE")
        cond = self.condition(start, action)
        eps = standard_normal((start.shape[0], self.config.latent), generator, start)
        mu, logvar = self.prior(cond)
        return self.decode(reparameterize(mu, logvar, eps), start, cond, self.config.length)


class SequenceDiscriminator(nn.Module):
    """D_seq: (B, T, K, 2) keypoint sequence -> (B,) logit that it is real (paper Eq. 5)."""

    def __init__(self, config: SequenceDiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        points = config.num_keypoints * 2
        inputs = points + (points + config.num_actions if config.conditional else 0)
        self.lstm = nn.LSTM(inputs, config.hidden, config.layers, batch_first=True)
        self.head = nn.Linear(config.hidden, 1)

    def forward(
        self,
        sequence: torch.Tensor,
        k0: torch.Tensor | None = None,
        action: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, T, K, 2) sequence (with (B, K, 2) k0 and (B,) action if conditional) -> (B,)."""
        b, t = sequence.shape[:2]
        x = sequence.reshape(b, t, -1)
        if self.config.conditional:
            onehot = F.one_hot(action.long(), self.config.num_actions).to(x)
            cond = torch.cat([k0.flatten(1), onehot], dim=1)  # (B, 2K + A)
            x = torch.cat([x, cond[:, None].expand(b, t, -1)], dim=2)
        _, (h, _) = self.lstm(x)  # h: (layers, B, hidden)
        return self.head(h[-1]).squeeze(1)
