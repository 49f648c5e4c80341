"""Stage 2 training: the motion generator learns keypoint sequences from pseudo-labels.

Alternating updates (paper Eq. 5): M minimises
KL(q(z | k̂1:T, k̂0, a) || N(0, I)) + λ2·|k̃1:T − k̂1:T|₁ − λ3·log D_seq(k̃1:T);
then D_seq minimises −log D_seq(k̂1:T) − log(1 − D_seq(k̃1:T)).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from keyvid.config import from_dict, to_dict
from keyvid.data.datasets import SequenceDataset
from keyvid.data.format import PreparedDataset
from keyvid.data.sequence_augment import augment_keypoint_sequences
from keyvid.errors import KeyvidError
from keyvid.evaluation.motion import motion_metrics
from keyvid.losses.adversarial import discriminator_loss, generator_loss
from keyvid.losses.vae import keypoint_l1, kl_divergence
from keyvid.models.motion import MotionGenerator, SequenceDiscriminator, reparameterize
from keyvid.training.config import Stage2Config
from keyvid.training.loop import NONFINITE, Periodic, run_loop
from keyvid.training.run import RunLogger, learning_rate, logger, prepare_run_dir, setup_torch
from keyvid.training.sampler import InfiniteSampler
from keyvid.training.samples import stage2_sample_grid
from keyvid.training.state import (
    BufferSnapshot,
    restore_state,
    resumable_checkpoint,
    save_png,
    save_state,
    set_learning_rate,
    step_if_finite,
)

KIND = "stage2"


@dataclass
class Stage2State:
    """Everything a step changes; saved in checkpoints for exact resume."""

    generator: MotionGenerator
    discriminator: SequenceDiscriminator | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    step: int = 0

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
    """Named losses of M for a batch of (B, T+1, K, 2) sequences; ``total`` is minimised.

    Also returns the generated sequences D_seq is to judge as fake: the reconstruction,
    and with ``loss.prior_adversarial`` a sequence decoded from a prior sample.
    """
    gen = state.generator
    k0, future = sequences[:, 0], sequences[:, 1:]
    recon, mu, logvar = gen(k0, future, action)
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


def train_step(state: Stage2State, batch: dict, config: Stage2Config) -> dict[str, float]:
    """One alternating update: M first, then D_seq on the sequences M just generated."""
    lr = learning_rate(config.optim, state.step)
    set_learning_rate(state, lr)
    sequences = augment_keypoint_sequences(batch["keypoints"], config.data.augment, None)
    buffers = BufferSnapshot(state.networks().values())
    disc = state.discriminator
    if disc is not None:
        disc.requires_grad_(False)
    losses, fakes = generator_losses(state, sequences, batch["action"], config)
    state.opt_g.zero_grad(set_to_none=True)
    losses["total"].backward()
    skipped = not step_if_finite(state.opt_g, losses["total"])
    logged = {f"loss/{k}": float(v.detach()) for k, v in losses.items()}
    if disc is not None:
        disc.requires_grad_(True)
        k0, action = sequences[:, 0], batch["action"]
        real = disc(sequences[:, 1:], k0, action)
        d_loss = sum(
            discriminator_loss(real, disc(fake.detach(), k0, action)) for fake in fakes
        ) / len(fakes)
        state.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        skipped |= not step_if_finite(state.opt_d, d_loss)
        logged["loss/discriminator"] = float(d_loss.detach())
    state.step += 1
    logged["lr"] = lr
    if skipped:
        buffers.restore()
    logged[NONFINITE] = float(skipped)
    return logged


def build_state(config: Stage2Config, device: torch.device) -> Stage2State:
    gen = MotionGenerator(config.model.generator).to(device)
    disc = None
    if config.loss.adversarial_weight > 0:
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
    run_dir = Path(run_dir)
    config = resolve_data_facts(config)
    config_dict = to_dict(config)
    ckpt = resumable_checkpoint(run_dir, KIND, config_dict) if resume else None
    prepare_run_dir(run_dir, config_dict, resume=resume)

    opt = config.optim
    device = setup_torch(opt)
    length = config.model.generator.length + 1  # k0 and the future
    dataset = SequenceDataset(
        config.data.root,
        length=length,
        keypoints=config.data.keypoints,
        load_frames=False,
        seed=opt.seed,
    )
    state = build_state(config, device)
    if ckpt is not None:
        restore_state(state, ckpt)
        logger.info("resumed from %s at step %d", ckpt.path, state.step)

    loader = DataLoader(
        dataset,
        batch_size=opt.batch_size,
        sampler=InfiniteSampler(len(dataset), seed=opt.seed, start=state.step * opt.batch_size),
        num_workers=0,  # a sequence is a slice of an in-memory array: workers would only cost
        drop_last=False,
        # Its own generator: a draw from torch's global one when the loader starts
        # would shift the RNG state restored from the checkpoint (inexact resume).
        generator=torch.Generator(),
    )
    test = _test_sequences(dataset.data, config.data.keypoints, length)
    log = RunLogger(run_dir, tensorboard=config.log.tensorboard, step=state.step)
    keep = config.log.keep_checkpoints

    def checkpoint() -> Path:
        return save_state(run_dir, state, kind=KIND, config=config_dict, keep=keep)

    def step_fn(batch: dict) -> dict[str, float]:
        return train_step(state, {k: v.to(device) for k, v in batch.items()}, config)

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
        save_png(run_dir / "samples" / f"step_{step:08d}.png", grid)

    jobs = []
    if test is not None:
        jobs += [
            Periodic(config.log.eval_every, evaluate),
            Periodic(config.log.sample_every, samples),
        ]
    state.generator.train()
    return run_loop(
        loader,
        state,
        step_fn,
        steps=opt.steps,
        max_steps=max_steps,
        log=log,
        cadence=config.log,
        items_per_step=opt.batch_size,
        rate_name="sequences_per_s",
        jobs=jobs,
        checkpoint=checkpoint,
        desc="stage 2",
        progress=progress,
        postfix=lambda means: {"l1": f"{means['loss/l1']:.4f}", "kl": f"{means['loss/kl']:.2f}"},
    )


def load_stage2_config(data: dict) -> Stage2Config:
    return from_dict(Stage2Config, data)


def _test_sequences(train: PreparedDataset, keypoints: str, length: int) -> SequenceDataset | None:
    """The test split's pseudo-label sequences from each video's start, if extracted."""
    if "test" not in train.meta["splits"]:
        return None
    test = PreparedDataset(train.root, "test")
    if keypoints not in test.keypoint_sets():
        logger.warning("no %r pseudo-labels on the test split: no evaluation", keypoints)
        return None
    return SequenceDataset(
        test, length=length, keypoints=keypoints, load_frames=False, random_start=False
    )


@torch.no_grad()
def _sample_grid(generator: MotionGenerator, test: SequenceDataset, n: int = 4) -> np.ndarray:
    picks = np.linspace(0, len(test) - 1, n).round().astype(int)
    items = [test[int(i)] for i in picks]
    seq = torch.stack([it["keypoints"] for it in items])  # (n, T+1, K, 2)
    action = torch.stack([it["action"] for it in items])
    rng = torch.Generator().manual_seed(0)
    device = next(generator.parameters()).device
    gen = generator.sample(seq[:, 0].to(device), action.to(device), seq.shape[1] - 1, rng)
    generated = torch.cat([seq[:, :1], gen.cpu()], dim=1)
    return stage2_sample_grid(seq.numpy(), generated.numpy())
