"""Stage 1 training: keypoints emerge from translating one frame of a video into another.

Alternating updates (paper Sec. 2): Q and T minimise
λ1·L_rec(v̂, v') − log D_im(v̂); then D_im minimises −log D_im(v') − log(1 − D_im(v̂)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from keyvid.config import to_dict
from keyvid.data.datasets import FramePairDataset
from keyvid.data.format import PreparedDataset
from keyvid.errors import KeyvidError
from keyvid.losses.adversarial import (
    feature_matching_loss,
    multiscale_discriminator_loss,
    multiscale_generator_loss,
)
from keyvid.losses.edges import gradient_l1
from keyvid.losses.equivariance import equivariance_loss
from keyvid.losses.motion import motion_weighted_l1
from keyvid.losses.reconstruction import ReconstructionLoss
from keyvid.losses.separation import separation_loss
from keyvid.metrics.keypoints import keypoint_regression_error
from keyvid.models.detector import reading
from keyvid.models.discriminator import ImageDiscriminator, patch_logits, split_batch
from keyvid.models.stage1 import KeypointTranslator, Stage1Output
from keyvid.training.config import Stage1Config
from keyvid.training.harness.adversarial import alternating_update
from keyvid.training.harness.loop import Periodic
from keyvid.training.harness.precision import FP32, Precision
from keyvid.training.harness.run import logger
from keyvid.training.harness.sample_grids import stage1_sample_grid
from keyvid.training.harness.session import TrainingSession
from keyvid.training.harness.state import save_png

KIND = "stage1"


def generator_losses(
    model: KeypointTranslator,
    discriminator: ImageDiscriminator | None,
    reconstruction: ReconstructionLoss,
    batch: dict[str, torch.Tensor],
    config: Stage1Config,
    forward: nn.Module | None = None,
) -> tuple[dict[str, torch.Tensor], Stage1Output]:
    """Named losses of Q and T for one batch; ``total`` is what is minimised.

    ``forward`` runs the model where it is wrapped (DDP, compiled); ``model`` itself
    serves the detector-only terms.
    """
    out = (model if forward is None else forward)(batch["source"], batch["target"])
    target = batch["target"]
    losses = {"reconstruction": reconstruction(out.translation.image, target)}
    total = config.loss.reconstruction_weight * losses["reconstruction"]
    with_s = config.loss.synthesized_weight > 0 and out.translation.mask is not None
    if with_s:
        losses["synthesized"] = reconstruction(out.translation.synthesized, target)
        total = total + config.loss.synthesized_weight * losses["synthesized"]
    if config.loss.gradient_weight > 0:
        losses["gradient"] = gradient_l1(out.translation.image, target)
        if with_s:
            s_term = gradient_l1(out.translation.synthesized, target)
            losses["gradient"] = losses["gradient"] + config.loss.synthesized_weight * s_term
        total = total + config.loss.gradient_weight * losses["gradient"]
    if config.loss.motion_weight > 0:
        losses["motion"] = motion_weighted_l1(out.translation.image, target, batch["source"])
        total = total + config.loss.motion_weight * losses["motion"]
    if config.loss.equivariance_weight > 0:
        losses["equivariance"] = equivariance_loss(model.detector, batch["source"], out.source_kp)
        total = total + config.loss.equivariance_weight * losses["equivariance"]
    if config.loss.separation_weight > 0:
        both = torch.cat([out.source_kp, out.target_kp])  # (2B, K, 2)
        losses["separation"] = separation_loss(both, config.loss.separation_sigma)
        total = total + config.loss.separation_weight * losses["separation"]
    if discriminator is not None:
        if config.loss.feature_matching_weight > 0:
            # One call for both: D_im has no batch norm, so this equals two calls.
            both = discriminator(torch.cat([target, out.translation.image]))
            real, fake = split_batch(both)
            losses["feature_matching"] = feature_matching_loss(real, fake)
            total = total + config.loss.feature_matching_weight * losses["feature_matching"]
        else:
            fake = discriminator(out.translation.image)
        losses["adversarial"] = multiscale_generator_loss(patch_logits(fake))
        total = total + config.loss.adversarial_weight * losses["adversarial"]
    losses["total"] = total
    return losses, out


def stage1_diagnostics(out: Stage1Output) -> dict[str, float]:
    """Cheap signs of emergence: keypoints spread over the batch, mask coverage."""
    kp = out.target_kp.detach().float()  # bf16 under autocast; cdist wants fp32
    stats = {
        # Std over the batch of each keypoint, averaged: ~0 means keypoints ignore the image.
        "kp_spread": float(kp.std(dim=0).mean()),
        # Mean distance between distinct keypoints of one image: ~0 means they collapsed.
        "kp_separation": float(torch.cdist(kp, kp).mean()),
    }
    if out.translation.mask is not None:
        stats["mask_mean"] = float(out.translation.mask.detach().mean())
    return stats


@dataclass
class Stage1State:
    """Everything a step changes; saved in checkpoints for exact resume."""

    model: KeypointTranslator
    discriminator: ImageDiscriminator | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    step: int = 0
    # The same networks as the step calls them (DDP, compiled), by attribute name;
    # checkpoints, evaluation and samples use the plain ones above.
    parallel: dict[str, nn.Module] = field(default_factory=dict)

    def networks(self) -> dict[str, torch.nn.Module]:
        nets = {"detector": self.model.detector, "translator": self.model.translator}
        if self.discriminator is not None:
            nets["discriminator"] = self.discriminator
        return nets


def build_state(config: Stage1Config, device: torch.device) -> Stage1State:
    model = KeypointTranslator(config.model).to(device)
    disc = None
    if config.loss.adversarial_weight > 0 or config.loss.feature_matching_weight > 0:
        disc = ImageDiscriminator(config.model.discriminator).to(device)
    opt = config.optim
    opt_g = torch.optim.Adam(model.parameters(), lr=opt.lr, betas=opt.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=opt.lr, betas=opt.betas) if disc else None
    return Stage1State(model, disc, opt_g, opt_d)


def train_step(
    state: Stage1State,
    reconstruction: ReconstructionLoss,
    batch: dict,
    config: Stage1Config,
    precision: Precision = FP32,
) -> tuple[dict[str, float], Stage1Output]:
    """One alternating update: Q and T first, then D_im on the same translation."""

    def generator() -> tuple[dict[str, torch.Tensor], Stage1Output]:
        forward = state.parallel.get("model")
        return generator_losses(
            state.model, state.discriminator, reconstruction, batch, config, forward=forward
        )

    def discriminator(out: Stage1Output) -> torch.Tensor:
        fake = out.translation.image.detach()
        # Real and fake in one call: one forward per backward, as DDP expects
        # (D_im has no batch norm, so this equals two calls).
        real, fake = split_batch(
            state.parallel.get("discriminator", state.discriminator)(
                torch.cat([batch["target"], fake])
            )
        )
        return multiscale_discriminator_loss(patch_logits(real), patch_logits(fake))

    return alternating_update(state, config.optim, precision, generator, discriminator)


def train_stage1(
    config: Stage1Config,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    max_steps: int | None = None,
) -> Path:
    """Train (or resume) stage 1 in ``run_dir``; returns the last checkpoint folder.

    ``max_steps`` stops this call early (e.g. for a time-boxed session) without
    changing the schedule, which always follows ``config.optim.steps``. Under
    ``torchrun`` every process runs this (``keyvid.training.harness.parallel``).
    """
    config_dict = to_dict(config)
    init_source = load_init_source(config) if not resume else None
    session = TrainingSession.start(
        run_dir, KIND, config_dict, config.optim, resume=resume, model_config=type(config.model)
    )
    if session.resume_from is not None:
        init_source = None
    opt, device = config.optim, session.device
    size = (config.model.image_size, config.model.image_size)
    train_data = PreparedDataset(config.data.root, "train")
    dataset = FramePairDataset(train_data, augment=config.data.augment, size=size, seed=opt.seed)
    if len(dataset) < opt.batch_size:
        raise KeyvidError(
            f"{config.data.root} has {len(dataset)} frames, fewer than a batch of {opt.batch_size}"
        )

    state = build_state(config, device)
    reconstruction = ReconstructionLoss.from_config(
        config.loss.reconstruction, config.loss.vgg_weights
    ).to(device)
    logger.info("reconstruction loss: %s", reconstruction.description)
    session.restore(state)
    if init_source is not None:
        init_weights(state.model, init_source)
    if config.freeze_detector:
        state.model.freeze_detector()
    state.parallel["model"] = session.train_module(state.model)
    if state.discriminator is not None:
        state.parallel["discriminator"] = session.train_module(state.discriminator)

    loader = session.loader(dataset, start_step=state.step, num_workers=config.data.num_workers)
    eval_data = _eval_splits(train_data)
    sample_batch = _fixed_sample_batch(train_data, size) if config.log.sample_every > 0 else None
    log = session.logger(tensorboard=config.log.tensorboard, step=state.step)

    def step_fn(batch: dict) -> dict[str, float]:
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        if opt.channels_last:
            batch = {k: _channels_last(v) for k, v in batch.items()}
        logged, out = train_step(state, reconstruction, batch, config, session.precision)
        return {**logged, **stage1_diagnostics(out)}

    def evaluate(step: int) -> dict[str, float]:
        err = keypoint_regression_error(
            state.model.detector,
            *eval_data,
            max_train_frames=config.log.eval_train_frames,
            max_test_frames=config.log.eval_test_frames,
        )
        tqdm.write(f"step {step}: keypoint regression error {err['test_error']:.4f} of image size")
        per_joint = {f"eval/joint/{name}": e for name, e in err["per_joint"].items()}
        return {"eval/keypoint_error": err["test_error"], **per_joint}

    def samples(step: int) -> None:
        grid = stage1_sample_grid(state.model, sample_batch)
        log.image(step, "samples", grid)
        save_png(session.run_dir / "samples" / f"step_{step:08d}.png", grid)

    jobs = []
    if eval_data:
        jobs.append(Periodic(config.log.eval_every, evaluate))
    if sample_batch is not None:
        jobs.append(Periodic(config.log.sample_every, samples))
    state.model.train()
    return session.run(
        state,
        loader,
        step_fn,
        log_config=config.log,
        log=log,
        jobs=jobs,
        rate_name="pairs_per_s",
        desc="stage 1",
        postfix=lambda means: {"rec": f"{means['loss/reconstruction']:.4f}"},
        max_steps=max_steps,
        progress=progress,
    )


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def load_init_source(config: Stage1Config) -> KeypointTranslator | None:
    """The model ``config.init_from`` names, checked against ``freeze_detector``: a frozen
    detector must be the checkpoint's, whole (same detector config), or training would
    freeze a random one."""
    from keyvid.models.load import load_stage1

    if not config.init_from:
        if config.freeze_detector:
            raise KeyvidError(
                "freeze_detector=true keeps the detector of init_from fixed, but init_from is "
                "not set; pass init_from=STAGE1_CHECKPOINT (or drop freeze_detector)"
            )
        return None
    source, ckpt = load_stage1(config.init_from)
    if config.freeze_detector and reading(source.config.detector) != reading(config.model.detector):
        raise KeyvidError(
            f"freeze_detector=true needs the detector of {ckpt.path} as it is, but "
            "model.detector (or model.num_keypoints / the size it reads) differs from its "
            "config; use the same detector settings (a larger model.image_size is fine with "
            "model.detector.input_size set to the checkpoint's image size)"
        )
    logger.info("initialising from %s (step %d)", ckpt.path, ckpt.step)
    return source


def init_weights(model: KeypointTranslator, source: KeypointTranslator) -> list[str]:
    """Copy ``source``'s detector and translator weights into ``model``; returns the names of
    what keeps its fresh initialisation. A tensor that is larger here along its first axis
    (a mask channel added to the translator's head) gets ``source``'s values in its leading
    slice; tensors ``source`` lacks or whose shapes do not fit stay fresh."""
    fresh = []
    with torch.no_grad():
        for name in ("detector", "translator"):
            theirs = getattr(source, name).state_dict()
            for key, mine in getattr(model, name).state_dict().items():
                value = theirs.get(key)
                if value is not None and value.shape == mine.shape:
                    mine.copy_(value)
                elif value is not None and _fills_leading_rows(value, mine):
                    mine[: value.shape[0]].copy_(value)
                    fresh.append(f"{name}.{key}[{value.shape[0]}:]")
                else:
                    fresh.append(f"{name}.{key}")
    logger.info("fresh after initialisation: %s", ", ".join(fresh) or "none")
    return fresh


def _fills_leading_rows(value: torch.Tensor, target: torch.Tensor) -> bool:
    """``value`` has ``target``'s trailing shape and fewer rows along the first axis."""
    return (
        value.ndim > 0 and value.shape[1:] == target.shape[1:] and value.shape[0] < target.shape[0]
    )


def _eval_splits(train: PreparedDataset) -> tuple[PreparedDataset, PreparedDataset] | None:
    if not train.has_joints or "test" not in train.meta["splits"]:
        return None
    return train, PreparedDataset(train.root, "test")


def _fixed_sample_batch(train: PreparedDataset, size: tuple[int, int], n: int = 6) -> dict:
    """The same pairs for every sample grid of a run: test split if any, unaugmented."""
    data = PreparedDataset(train.root, "test") if "test" in train.meta["splits"] else train
    ds = FramePairDataset(data, size=size, seed=12345)
    picks = np.linspace(0, len(ds) - 1, n).round().astype(int)
    items = [ds[int(i)] for i in picks]
    return {k: torch.stack([it[k] for it in items]) for k in ("source", "target")}
