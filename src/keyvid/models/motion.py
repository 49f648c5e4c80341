"""Stage 2 networks: the motion generator M and the sequence discriminator D_seq.

M is a conditional VAE on keypoint sequences (paper Sec. 2, Eq. 5): an LSTM
encoder reads the pseudo-label sequence k1:T with its conditions (first-frame
keypoints k0 and the one-hot action a) into q(z | k1:T, k0, a); an LSTM decoder
turns z and the conditions back into k1:T. At inference z ~ N(0, I), so each
draw is another future. As in the authors' code the decoder gets FC([z, k0, a])
at the first step and zeros after, and an LSTM of 2 × 1024 units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from keyvid.config import choices, propagate_shared, shared


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor | None = None
) -> torch.Tensor:
    """z = mu + eps * sigma with eps ~ N(0, I) (drawn here unless given): differentiable in
    mu and logvar (Kingma & Welling 2014)."""
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + eps * (0.5 * logvar).exp()


@dataclass
class MotionGeneratorConfig:
    num_keypoints: int = 40  # K, must match the stage-1 detector
    num_actions: int = 9  # one-hot size (Penn Action's 9 classes)
    action: bool = True  # False: condition on k0 only ("w/o a" ablation; UvA-NEMO, MGIF)
    hidden: int = 1024  # LSTM units, encoder and decoder (authors' code)
    layers: int = 2  # stacked LSTM layers (authors' code)
    latent: int = 64  # size of z (authors' code)
    length: int = 32  # future frames per training sequence (authors' code: 33 with k0)
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


class MotionGenerator(nn.Module):
    """cVAE over keypoint sequences; all keypoints are (x, y) in [-1, 1]."""

    def __init__(self, config: MotionGeneratorConfig) -> None:
        super().__init__()
        self.config = config
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
        # Per-action factor on sampled offsets (one factor without the action condition);
        # 1 until measured (``keyvid.metrics.motion.travel_scales``). Saved with the weights.
        scales = c.num_actions if c.action else 1
        self.register_buffer("travel_scale", torch.ones(scales))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # Checkpoints from before travel calibration hold no scale: they sample unscaled.
        state_dict.setdefault(prefix + "travel_scale", torch.ones_like(self.travel_scale))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def condition(self, k0: torch.Tensor, action: torch.Tensor | None) -> torch.Tensor:
        """(B, K, 2) first keypoints and (B,) action indices -> (B, 2K [+ A]) condition."""
        parts = [k0.flatten(1)]
        if self.config.action:
            if action is None:
                raise ValueError("this motion generator is conditioned on an action; pass one")
            parts.append(F.one_hot(action.long(), self.config.num_actions).to(k0.dtype))
        return torch.cat(parts, dim=1)

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

    @torch.no_grad()
    def sample(
        self,
        k0: torch.Tensor,
        action: torch.Tensor | None,
        frames: int,
        generator: torch.Generator | None = None,
        *,
        scale: float | None = None,
    ) -> torch.Tensor:
        """(B, K, 2) first keypoints -> (B, frames, K, 2) future keypoints, z from the prior.

        The decoder's offsets from the segment's start are multiplied by ``scale``, or
        by the action's measured ``travel_scale`` when None (1.0: the raw samples).
        Longer than the training length, the sequence continues in segments: each
        starts from the last keypoints of the one before with a fresh z.
        """
        if scale is not None:
            factor = k0.new_full((k0.shape[0], 1, 1, 1), float(scale))
        else:
            per_action = self.config.action and action is not None  # None: condition() says
            index = action.long() if per_action else k0.new_zeros(k0.shape[0], dtype=torch.long)
            factor = self.travel_scale.to(k0)[index].view(-1, 1, 1, 1)  # (B, 1, 1, 1)
        out, start = [], k0
        for done in range(0, frames, self.config.length):
            n = min(self.config.length, frames - done)
            cond = self.condition(start, action)
            # Drawn where the generator lives (a CPU generator gives the same z on any device).
            where = generator.device if generator is not None else k0.device
            eps = torch.randn(k0.shape[0], self.config.latent, generator=generator, device=where)
            mu, logvar = self.prior(cond)
            z = reparameterize(mu, logvar, eps.to(k0))
            segment = self.decode(z, start, cond, self.config.length)[:, :n]
            segment = start[:, None] + factor * (segment - start[:, None])  # (B, n, K, 2)
            out.append(segment)
            start = segment[:, -1]
        return torch.cat(out, dim=1)


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
