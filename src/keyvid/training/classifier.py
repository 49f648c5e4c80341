"""Training the in-domain evaluator: a video action classifier on a dataset's real videos.

Cross-entropy on clips of ``model.frames`` frames spread over a random window of a
training video (``SequenceDataset``), with the stage-1 augmentations applied alike
to every frame; test-split accuracy is logged as ``eval/accuracy``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from keyvid.config import from_dict, to_dict
from keyvid.data.datasets import SequenceDataset
from keyvid.data.format import PreparedDataset
from keyvid.errors import KeyvidError
from keyvid.metrics.actions import accuracy, classify, evaluation_clip_of
from keyvid.models.classifier import ActionClassifier
from keyvid.training.config import ClassifierConfig
from keyvid.training.harness.loop import NONFINITE, Periodic
from keyvid.training.harness.precision import FP32, Precision
from keyvid.training.harness.run import learning_rate, logger
from keyvid.training.harness.session import TrainingSession
from keyvid.training.harness.state import BufferSnapshot, set_learning_rate

KIND = "classifier"


@dataclass
class ClassifierState:
    """Everything a step changes; saved in checkpoints for exact resume."""

    classifier: ActionClassifier
    opt_g: torch.optim.Optimizer
    opt_d: None = None  # no adversary: the shared checkpoint code expects the field
    step: int = 0
    # The classifier as the step calls it (DDP, compiled).
    parallel: dict[str, nn.Module] = field(default_factory=dict)

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


def train_step(
    state: ClassifierState, batch: dict, config: ClassifierConfig, precision: Precision = FP32
) -> dict[str, float]:
    lr = learning_rate(config.optim, state.step)
    set_learning_rate(state, lr)
    buffers = BufferSnapshot([state.classifier])
    with precision.autocast():
        logits = state.parallel.get("classifier", state.classifier)(batch["frames"])
        loss = F.cross_entropy(logits, batch["action"])
    state.opt_g.zero_grad(set_to_none=True)
    precision.backward(loss)
    skipped = not precision.step(state.opt_g, loss)
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
    config = resolve_data_facts(config)
    config_dict = to_dict(config)
    session = TrainingSession.start(
        run_dir, KIND, config_dict, config.optim, resume=resume, model_config=type(config.model)
    )
    opt, device = config.optim, session.device
    dataset = SequenceDataset(
        config.data.root, length=config.model.frames, augment=config.data.augment, seed=opt.seed
    )
    classifier = ActionClassifier(config.model).to(device)
    state = ClassifierState(
        classifier, torch.optim.Adam(classifier.parameters(), lr=opt.lr, betas=opt.betas)
    )
    session.restore(state)
    state.parallel["classifier"] = session.train_module(state.classifier)

    loader = session.loader(dataset, start_step=state.step, num_workers=config.data.num_workers)
    test = _test_clips(dataset.data, config.model.frames)
    log = session.logger(tensorboard=config.log.tensorboard, step=state.step)

    def step_fn(batch: dict) -> dict[str, float]:
        batch = {k: v.to(device) for k, v in batch.items()}
        return train_step(state, batch, config, session.precision)

    def evaluate(step: int) -> dict[str, float]:
        videos, labels = test
        logits, _ = classify(state.classifier, videos)
        state.classifier.train()
        acc = accuracy(logits, labels)
        tqdm.write(f"step {step}: test accuracy {acc:.3f} ({len(labels)} videos)")
        return {"eval/accuracy": acc}

    jobs = [Periodic(config.log.eval_every, evaluate)] if test is not None else []
    state.classifier.train()
    return session.run(
        state,
        loader,
        step_fn,
        log_config=config.log,
        log=log,
        jobs=jobs,
        rate_name="clips_per_s",
        desc="classifier",
        postfix=lambda means: {
            "loss": f"{means['loss/cross_entropy']:.3f}",
            "acc": f"{means['train/accuracy']:.2f}",
        },
        max_steps=max_steps,
        progress=progress,
    )


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
