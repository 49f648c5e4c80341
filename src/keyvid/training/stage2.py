"""Stage 2 training: the motion generator learns keypoint sequences from pseudo-labels.

The cVAE (paper Eq. 5), alternating updates: M minimises
KL(q(z | k̂1:T, k̂0, a) || N(0, I)) + λ2·|k̃1:T − k̂1:T|₁ − λ3·log D_seq(k̃1:T);
then D_seq minimises −log D_seq(k̂1:T) − log(1 − D_seq(k̃1:T)).

The diffusion generator (``keyvid.models.diffusion``): M alone minimises
|x̂0 − x0|² + λ_vel·|Δx̂0 − Δx0|² at a random noise level, the action dropped at random.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from keyvid.config import from_dict, to_dict
from keyvid.data.datasets import SequenceDataset
from keyvid.data.format import PreparedDataset
from keyvid.data.sequence_augment import augment_keypoint_sequences
from keyvid.errors import KeyvidError
from keyvid.losses.adversarial import discriminator_loss, generator_loss
from keyvid.losses.diffusion import denoising_losses
from keyvid.losses.vae import keypoint_l1, kl_divergence
from keyvid.metrics.motion import motion_metrics, start_sequences, travel_scales
from keyvid.models.diffusion import DiffusionMotionGenerator
from keyvid.models.motion import SegmentSampler, SequenceDiscriminator, reparameterize
from keyvid.models.stage2 import build_motion_generator
from keyvid.training.config import Stage2Config
from keyvid.training.harness.adversarial import alternating_update
from keyvid.training.harness.loop import Periodic
from keyvid.training.harness.precision import FP32, Precision
from keyvid.training.harness.run import logger
from keyvid.training.harness.sample_grids import stage2_sample_grid
from keyvid.training.harness.session import TrainingSession
from keyvid.training.harness.state import save_png

KIND = "stage2"


@dataclass
class Stage2State:
    """Everything a step changes; saved in checkpoints for exact resume."""

    generator: SegmentSampler
    discriminator: SequenceDiscriminator | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    step: int = 0
    # The same networks as the step calls them (DDP, compiled), by attribute name.
    parallel: dict[str, nn.Module] = field(default_factory=dict)

    def networks(self) -> dict[str, torch.nn.Module]:
        nets = {"motion_generator": self.generator}
        if self.discriminator is not None:
            nets["sequence_discriminator"] = self.discriminator
        return nets


def resolve_data_facts(config: Stage2Config) -> Stage2Config:
    """Fill ``model.num_keypoints`` and ``model.actions`` from the dataset and its pseudo-labels.

    They are facts of the data, not choices; the resolved config (saved in the
    run folder and every checkpoint) holds them so that inference needs no dataset.
    """
    data = PreparedDataset(config.data.root, "train")
    path = data.root / "train" / "keypoints" / f"{config.data.keypoints}.npy"
    if not path.exists():
        have = ", ".join(data.keypoint_sets()) or "none"
        raise KeyvidError(
            f"no pseudo-labels named {config.data.keypoints!r} in {data.root} (available: {have}); "
            f"run `keyvid extract-keypoints --checkpoint {config.stage1} --data {data.root}` first"
        )
    num_keypoints = int(np.load(path, mmap_mode="r").shape[1])
    resolved = to_dict(config)
    resolved["model"]["num_keypoints"] = num_keypoints
    resolved["model"]["actions"] = list(data.actions)
    return from_dict(Stage2Config, resolved)


def kl_warmup(steps: int, step: int) -> float:
    """Factor on the KL weight: step / steps during the warm-up, then 1."""
    return min(1.0, step / steps) if steps > 0 else 1.0


def generator_losses(
    state: Stage2State, sequences: torch.Tensor, action: torch.Tensor, config: Stage2Config
) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    """Named losses of M for a batch of (B, T+1, K, 2) sequences; ``total`` is minimised."""
    if isinstance(state.generator, DiffusionMotionGenerator):
        return diffusion_losses(state, sequences, action, config), []
    return cvae_losses(state, sequences, action, config)


def diffusion_losses(
    state: Stage2State, sequences: torch.Tensor, action: torch.Tensor, config: Stage2Config
) -> dict[str, torch.Tensor]:
    """The denoiser's terms at one random noise level per sequence (MDM)."""
    gen = state.generator
    k0 = sequences[:, 0]
    clean = gen.to_clean(k0, sequences[:, 1:])  # (B, T, 2K)
    b = clean.shape[0]
    t = torch.randint(0, len(gen.alphas_cumprod), (b,), device=clean.device)
    noisy = gen.add_noise(clean, t, torch.randn_like(clean))
    if gen.action_in is not None:  # classifier-free guidance learns "no action" too
        drop = torch.rand(b, device=clean.device) < config.model.generator.diffusion.action_dropout
        action = torch.where(drop, torch.full_like(action, gen.null_action), action)
    pred = state.parallel.get("generator", gen)(noisy, t, k0, action)
    losses = denoising_losses(pred, clean)
    losses["total"] = losses["position"] + config.loss.velocity_weight * losses["velocity"]
    return losses


def cvae_losses(
    state: Stage2State, sequences: torch.Tensor, action: torch.Tensor, config: Stage2Config
) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    """The cVAE's named losses (paper Eq. 5).

    Also returns the generated sequences D_seq is to judge as fake: the reconstruction,
    and with ``loss.prior_adversarial`` a sequence decoded from a prior sample.
    """
    gen = state.generator
    k0, future = sequences[:, 0], sequences[:, 1:]
    recon, mu, logvar = state.parallel.get("generator", gen)(k0, future, action)
    cond = gen.condition(k0, action)
    prior_mu, prior_logvar = gen.prior(cond)
    losses = {
        "kl": kl_divergence(mu, logvar, prior_mu, prior_logvar),
        "l1": keypoint_l1(recon, future),
    }
    kl_weight = config.loss.kl_weight * kl_warmup(config.loss.kl_warmup_steps, state.step)
    total = kl_weight * losses["kl"] + config.loss.l1_weight * losses["l1"]
    fakes = [recon]
    if state.discriminator is not None:
        losses["adversarial"] = generator_loss(state.discriminator(recon, k0, action))
        total = total + config.loss.adversarial_weight * losses["adversarial"]
        if config.loss.prior_adversarial:
            z = reparameterize(prior_mu, prior_logvar)
            sampled = gen.decode(z, k0, cond, future.shape[1])  # (B, T, K, 2)
            losses["adversarial_prior"] = generator_loss(state.discriminator(sampled, k0, action))
            total = total + config.loss.adversarial_weight * losses["adversarial_prior"]
            fakes.append(sampled)
    losses["total"] = total
    return losses, fakes


def train_step(
    state: Stage2State, batch: dict, config: Stage2Config, precision: Precision = FP32
) -> dict[str, float]:
    """One alternating update: M first, then D_seq on the sequences M just generated."""
    sequences = augment_keypoint_sequences(batch["keypoints"], config.data.augment, None)
    k0, action = sequences[:, 0], batch["action"]

    def generator() -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
        return generator_losses(state, sequences, action, config)

    def discriminator(fakes: list[torch.Tensor]) -> torch.Tensor:
        n = len(fakes)
        # Real and fake sequences in one call: one forward per backward, as DDP
        # expects (D_seq treats every sequence on its own, so this equals n+1 calls).
        logits = state.parallel.get("discriminator", state.discriminator)(
            torch.cat([sequences[:, 1:], *(f.detach() for f in fakes)]),
            k0.repeat(n + 1, 1, 1),
            action.repeat(n + 1),
        ).chunk(n + 1)
        return sum(discriminator_loss(logits[0], fake) for fake in logits[1:]) / n

    logged, _ = alternating_update(state, config.optim, precision, generator, discriminator)
    return logged


def build_state(config: Stage2Config, device: torch.device) -> Stage2State:
    gen = build_motion_generator(config.model.generator).to(device)
    disc = None
    # D_seq judges the cVAE's sequences (paper Eq. 5); the diffusion model trains alone.
    if config.loss.adversarial_weight > 0 and config.model.generator.kind == "cvae":
        disc = SequenceDiscriminator(config.model.discriminator).to(device)
    opt = config.optim
    opt_g = torch.optim.Adam(gen.parameters(), lr=opt.lr, betas=opt.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=opt.lr, betas=opt.betas) if disc else None
    return Stage2State(gen, disc, opt_g, opt_d)


def train_stage2(
    config: Stage2Config,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    max_steps: int | None = None,
) -> Path:
    """Train (or resume) stage 2 in ``run_dir``; returns the last checkpoint folder."""
    config = resolve_data_facts(config)
    config_dict = to_dict(config)
    session = TrainingSession.start(
        run_dir, KIND, config_dict, config.optim, resume=resume, model_config=type(config.model)
    )
    length = config.model.generator.length + 1  # k0 and the future
    dataset = SequenceDataset(
        config.data.root,
        length=length,
        keypoints=config.data.keypoints,
        load_frames=False,
        seed=config.optim.seed,
    )
    state = build_state(config, session.device)
    reference = start_sequences(dataset.data, config.data.keypoints, length)
    if isinstance(state.generator, DiffusionMotionGenerator):
        # σ_data before step 0 (a resumed run restores the saved one just below).
        first = torch.stack([reference[i]["keypoints"] for i in range(len(reference))])
        state.generator.set_offset_scale(first.to(session.device))
    session.restore(state)
    state.parallel["generator"] = session.train_module(state.generator)
    if state.discriminator is not None:
        state.parallel["discriminator"] = session.train_module(state.discriminator)

    # No loader workers: a sequence is a slice of an in-memory array.
    loader = session.loader(dataset, start_step=state.step)
    test = _test_sequences(dataset.data, config.data.keypoints, length)
    log = session.logger(tensorboard=config.log.tensorboard, step=state.step)
    device = session.device

    def step_fn(batch: dict) -> dict[str, float]:
        batch = {k: v.to(device) for k, v in batch.items()}
        return train_step(state, batch, config, session.precision)

    def evaluate(step: int) -> dict[str, float]:
        m = motion_metrics(state.generator, test, samples=4)
        tqdm.write(
            f"step {step}: test L1 {m['l1']:.4f} (best of 4 {m['l1_best']:.4f}), diversity "
            f"{m['diversity']:.4f}, motion {m['motion']:.4f} (data {m['motion_data']:.4f})"
        )
        return {f"eval/{k}": v for k, v in m.items()}

    def samples(step: int) -> None:
        grid = _sample_grid(state.generator, test)
        log.image(step, "keypoint_sequences", grid)
        save_png(session.run_dir / "samples" / f"step_{step:08d}.png", grid)

    calibrate = None
    if config.model.generator.calibrate_travel:

        def calibrate() -> None:
            state.generator.travel_scale.copy_(travel_scales(state.generator, reference))

    jobs = []
    if test is not None:
        jobs += [
            Periodic(config.log.eval_every, evaluate),
            Periodic(config.log.sample_every, samples),
        ]
    state.generator.train()
    return session.run(
        state,
        loader,
        step_fn,
        log_config=config.log,
        log=log,
        jobs=jobs,
        rate_name="sequences_per_s",
        desc="stage 2",
        postfix=_postfix,
        max_steps=max_steps,
        progress=progress,
        before_checkpoint=calibrate,
    )


def _postfix(means: dict[str, float]) -> dict[str, str]:
    """The progress bar's losses: L1 and KL for the cVAE, the denoising terms for diffusion."""
    if "loss/kl" in means:
        return {"l1": f"{means['loss/l1']:.4f}", "kl": f"{means['loss/kl']:.2f}"}
    return {"position": f"{means['loss/position']:.4f}"}


def _test_sequences(train: PreparedDataset, keypoints: str, length: int) -> SequenceDataset | None:
    """The test split's pseudo-label sequences from each video's start, if extracted."""
    if "test" not in train.meta["splits"]:
        return None
    test = PreparedDataset(train.root, "test")
    if keypoints not in test.keypoint_sets():
        logger.warning("no %r pseudo-labels on the test split: no evaluation", keypoints)
        return None
    return start_sequences(test, keypoints, length)


@torch.no_grad()
def _sample_grid(generator: SegmentSampler, test: SequenceDataset, n: int = 4) -> np.ndarray:
    picks = np.linspace(0, len(test) - 1, n).round().astype(int)
    items = [test[int(i)] for i in picks]
    seq = torch.stack([it["keypoints"] for it in items])  # (n, T+1, K, 2)
    action = torch.stack([it["action"] for it in items])
    rng = torch.Generator().manual_seed(0)
    device = next(generator.parameters()).device
    gen = generator.sample(seq[:, 0].to(device), action.to(device), seq.shape[1] - 1, rng)
    generated = torch.cat([seq[:, :1], gen.cpu()], dim=1)
    return stage2_sample_grid(seq.numpy(), generated.numpy())
