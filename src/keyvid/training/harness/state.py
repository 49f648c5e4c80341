"""What both trainers share about their state: optimisers, checkpoints, exact resume.

Each stage keeps its networks, a generator-side optimiser ``opt_g``, an optional
discriminator optimiser ``opt_d`` and the step in a small state object; these
functions save and restore any such object, so a resumed run continues
bit-identically on CPU (weights, optimiser moments and torch's RNG state).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from keyvid.checkpoint import (
    Checkpoint,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from keyvid.config import from_dict, to_dict
from keyvid.errors import KeyvidError


class TrainState(Protocol):
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    step: int

    def networks(self) -> dict[str, nn.Module]: ...


def set_learning_rate(state: TrainState, lr: float) -> None:
    for opt in (state.opt_g, state.opt_d):
        for group in opt.param_groups if opt is not None else []:
            group["lr"] = lr


class BufferSnapshot:
    """Copies of networks' floating-point buffers (batch-norm running statistics), taken
    before a step: a NaN batch poisons them in the forward pass, which skipping the
    update does not undo, so a skipped step puts them back."""

    def __init__(self, networks: Iterable[nn.Module]) -> None:
        self.saved = [
            (b, b.detach().clone())
            for net in networks
            for b in net.buffers()
            if b.is_floating_point()
        ]

    @torch.no_grad()
    def restore(self) -> None:
        for buffer, copy in self.saved:
            buffer.copy_(copy)


def step_if_finite(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> bool:
    """``optimizer.step()`` unless the loss or a gradient holds NaN/Inf.

    A non-finite update would spoil the weights for good (Adam's moments keep it); the
    step is skipped instead, its gradients dropped, and False returned so that the
    trainer can count it (``run_loop`` stops a run that keeps doing it).
    """
    grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
    checks = [torch.isfinite(loss).all()] + [torch.isfinite(g).all() for g in grads]
    if bool(torch.stack(checks).all()):  # one device sync for all of them
        optimizer.step()
        return True
    optimizer.zero_grad(set_to_none=True)
    return False


def resumable_checkpoint(
    run_dir: Path, kind: str, config: dict, model_config: type | None = None
) -> Checkpoint | None:
    """The run's latest checkpoint, refused if it was built with another model config.

    With ``model_config`` (the model section's dataclass) the checkpoint's model config is
    read through it first, so settings added to keyvid after the checkpoint was written
    compare at their defaults: a run survives an upgrade that adds options.
    """
    latest = latest_checkpoint(run_dir / "checkpoints")
    if latest is None:
        return None
    ckpt = load_checkpoint(latest, kind=kind)
    saved = ckpt.config["model"]
    if model_config is not None:
        saved = to_dict(from_dict(model_config, saved, prefix="model."))
    if saved != config["model"]:
        raise KeyvidError(
            f"the model config differs from the one of the checkpoint {latest}; "
            "resume without model.* overrides (the run folder was left unchanged)"
        )
    return ckpt


def restore_state(state: TrainState, ckpt: Checkpoint) -> None:
    """Load weights, optimiser and RNG state from a checkpoint written by ``save_state``."""
    for name, net in state.networks().items():
        try:
            net.load_state_dict(ckpt.state_dict(name))
        except RuntimeError as e:
            raise KeyvidError(
                f"checkpoint {ckpt.path} does not fit the configured {name} "
                f"({str(e).splitlines()[0]}); resume with the config the run was started with"
            ) from None
    training = ckpt.training_state()
    state.opt_g.load_state_dict(training["opt_g"])
    if state.opt_d is not None:
        state.opt_d.load_state_dict(training["opt_d"])
    torch.set_rng_state(training["torch_rng"])
    state.step = ckpt.step


def save_state(
    run_dir: Path,
    state: TrainState,
    *,
    kind: str,
    config: dict,
    keep: int,
    extra: dict | None = None,
) -> Path:
    """Checkpoint ``state`` under ``run_dir/checkpoints`` (keeping the newest ``keep``);
    ``extra`` joins the training state (loss scaler, other ranks' RNG states)."""
    training = {"opt_g": state.opt_g.state_dict(), "torch_rng": torch.get_rng_state()}
    training.update(extra or {})
    if state.opt_d is not None:
        training["opt_d"] = state.opt_d.state_dict()
    return save_checkpoint(
        run_dir / "checkpoints",
        kind=kind,
        step=state.step,
        networks=state.networks(),
        config=config,
        training_state=training,
        keep=keep,
    )


def save_png(path: Path, image: np.ndarray) -> None:
    from keyvid.io import write_image

    write_image(path, image)
