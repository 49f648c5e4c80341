"""Training the in-domain evaluator: a video action classifier on a dataset's real videos.

Cross-entropy on clips of ``model.frames`` frames spread over a random window of a
training video (``SequenceDataset``), with the stage-1 augmentations applied alike
to every frame; test-split accuracy is logged as ``eval/accuracy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from keyvid.config import from_dict, to_dict
from keyvid.data.datasets import SequenceDataset
from keyvid.data.format import PreparedDataset
from keyvid.errors import KeyvidError
from keyvid.evaluation.actions import accuracy, classify, evaluation_clip_of
from keyvid.models.classifier import ActionClassifier
from keyvid.training.config import ClassifierConfig
from keyvid.training.loop import NONFINITE, Periodic, run_loop
from keyvid.training.run import RunLogger, learning_rate, logger, prepare_run_dir, setup_torch
from keyvid.training.sampler import InfiniteSampler, single_thread_worker
from keyvid.training.state import (
    BufferSnapshot,
    restore_state,
    resumable_checkpoint,
    save_state,
    set_learning_rate,
    step_if_finite,
)

KIND = "classifier"


@dataclass
class ClassifierState:
    """Everything a step changes; saved in checkpoints for exact resume."""

    classifier: ActionClassifier
    opt_g: torch.optim.Optimizer
    opt_d: None = None  # no adversary: the shared checkpoint code expects the field
    step: int = 0

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"action_classifier": self.classifier}


def resolve_data_facts(config: ClassifierConfig) -> ClassifierConfig:
    """Fill ``model.num_actions`` and ``model.actions`` from the dataset."""
    data = PreparedDataset(config.data.root, "train")
    if len(data.actions) < 2:
        raise KeyvidError(
            f"{data.root} has {len(data.actions)} action class(es); an action classifier "
            "needs at least 2"
        )
    resolved = to_dict(config)
    resolved["model"]["num_actions"] = len(data.actions)
    resolved["model"]["actions"] = list(data.actions)
    return from_dict(ClassifierConfig, resolved)


def train_step(state: ClassifierState, batch: dict, config: ClassifierConfig) -> dict[str, float]:
    lr = learning_rate(config.optim, state.step)
    set_learning_rate(state, lr)
    buffers = BufferSnapshot([state.classifier])
    logits = state.classifier(batch["frames"])
    loss = F.cross_entropy(logits, batch["action"])
    state.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    skipped = not step_if_finite(state.opt_g, loss)
    if skipped:
        buffers.restore()
    state.step += 1
    hits = (logits.detach().argmax(1) == batch["action"]).float().mean()
    return {
        "loss/cross_entropy": float(loss.detach()),
        "train/accuracy": float(hits),
        "lr": lr,
        NONFINITE: float(skipped),
    }


def train_classifier(
    config: ClassifierConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    max_steps: int | None = None,
) -> Path:
    """Train (or resume) the action classifier in ``run_dir``; returns the last checkpoint."""
    run_dir = Path(run_dir)
    config = resolve_data_facts(config)
    config_dict = to_dict(config)
    ckpt = resumable_checkpoint(run_dir, KIND, config_dict) if resume else None
    prepare_run_dir(run_dir, config_dict, resume=resume)

    opt = config.optim
    device = setup_torch(opt)
    dataset = SequenceDataset(
        config.data.root, length=config.model.frames, augment=config.data.augment, seed=opt.seed
    )
    classifier = ActionClassifier(config.model).to(device)
    state = ClassifierState(
        classifier, torch.optim.Adam(classifier.parameters(), lr=opt.lr, betas=opt.betas)
    )
    if ckpt is not None:
        restore_state(state, ckpt)
        logger.info("resumed from %s at step %d", ckpt.path, state.step)

    workers = config.data.num_workers
    loader = DataLoader(
        dataset,
        batch_size=opt.batch_size,
        sampler=InfiniteSampler(len(dataset), seed=opt.seed, start=state.step * opt.batch_size),
        num_workers=workers,
        worker_init_fn=single_thread_worker if workers > 0 else None,
        persistent_workers=workers > 0,
        generator=torch.Generator(),  # see stage 2: keeps the restored RNG state exact
    )
    test = _test_clips(dataset.data, config.model.frames)
    log = RunLogger(run_dir, tensorboard=config.log.tensorboard, step=state.step)

    def checkpoint() -> Path:
        return save_state(
            run_dir, state, kind=KIND, config=config_dict, keep=config.log.keep_checkpoints
        )

    def step_fn(batch: dict) -> dict[str, float]:
        return train_step(state, {k: v.to(device) for k, v in batch.items()}, config)

    def evaluate(step: int) -> dict[str, float]:
        videos, labels = test
        logits, _ = classify(state.classifier, videos)
        state.classifier.train()
        acc = accuracy(logits, labels)
        tqdm.write(f"step {step}: test accuracy {acc:.3f} ({len(labels)} videos)")
        return {"eval/accuracy": acc}

    jobs = [Periodic(config.log.eval_every, evaluate)] if test is not None else []
    state.classifier.train()
    return run_loop(
        loader,
        state,
        step_fn,
        steps=opt.steps,
        max_steps=max_steps,
        log=log,
        cadence=config.log,
        items_per_step=opt.batch_size,
        rate_name="clips_per_s",
        jobs=jobs,
        checkpoint=checkpoint,
        desc="classifier",
        progress=progress,
        postfix=lambda means: {
            "loss": f"{means['loss/cross_entropy']:.3f}",
            "acc": f"{means['train/accuracy']:.2f}",
        },
    )


def load_classifier_config(data: dict) -> ClassifierConfig:
    return from_dict(ClassifierConfig, data)


def _test_clips(
    train: PreparedDataset, frames: int
) -> tuple[list[torch.Tensor], torch.Tensor] | None:
    """The test split's evaluation clips (frames, 3, H, W) and labels, if it has one."""
    if "test" not in train.meta["splits"]:
        logger.warning("%s has no test split: no evaluation during training", train.root)
        return None
    test = PreparedDataset(train.root, "test")
    # The clip, not the whole video, is kept: long real videos would not fit in memory.
    videos = [evaluation_clip_of(test.frames(i), frames) for i in range(len(test))]
    return videos, torch.tensor([v.action for v in test.videos])
