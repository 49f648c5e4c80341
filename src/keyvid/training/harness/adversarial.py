"""The alternating generator / discriminator update that stage 1 (Q, T against D_im) and
stage 2 (M against D_seq) share, written once so that mixed precision, the skipped-step
guard and the learning-rate schedule cannot drift apart between them.

One update (paper Sec. 3.2, "optimised alternately"):

1. set the step's learning rate; snapshot the batch-norm buffers;
2. generator step on ``generator()``'s losses, with D frozen (its gradients come from
   its own step only);
3. discriminator step on ``discriminator(outputs)``, the generator's outputs detached
   by the caller;
4. a step whose loss was not finite is skipped by the precision policy: the buffers are
   put back and ``train/skipped_nonfinite`` is 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import torch
from torch import nn

from keyvid.training.config import OptimConfig
from keyvid.training.harness.loop import NONFINITE
from keyvid.training.harness.precision import Precision
from keyvid.training.harness.run import learning_rate
from keyvid.training.harness.state import BufferSnapshot, set_learning_rate

Out = TypeVar("Out")


class AdversarialState(Protocol):
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    discriminator: nn.Module | None
    step: int

    def networks(self) -> dict[str, nn.Module]: ...


def alternating_update(
    state: AdversarialState,
    optim: OptimConfig,
    precision: Precision,
    generator: Callable[[], tuple[dict[str, torch.Tensor], Out]],
    discriminator: Callable[[Out], torch.Tensor],
) -> tuple[dict[str, float], Out]:
    """One generator step then (when ``state.discriminator``) one discriminator step.

    ``generator()`` returns the named losses (``"total"`` is minimised) and whatever the
    discriminator step needs; ``discriminator(outputs)`` returns D's loss. Returns the
    logged scalars (``loss/<name>``, ``loss/discriminator``, ``lr``, skipped) and the
    outputs.
    """
    lr = learning_rate(optim, state.step)
    set_learning_rate(state, lr)
    buffers = BufferSnapshot(state.networks().values())
    disc = state.discriminator
    if disc is not None:
        disc.requires_grad_(False)  # its gradients come from its own step only
    with precision.autocast():
        losses, outputs = generator()
    state.opt_g.zero_grad(set_to_none=True)
    precision.backward(losses["total"])
    skipped = not precision.step(state.opt_g, losses["total"])
    logged = {f"loss/{k}": float(v.detach()) for k, v in losses.items()}
    if disc is not None:
        disc.requires_grad_(True)
        with precision.autocast():
            d_loss = discriminator(outputs)
        state.opt_d.zero_grad(set_to_none=True)
        precision.backward(d_loss)
        skipped |= not precision.step(state.opt_d, d_loss)
        logged["loss/discriminator"] = float(d_loss.detach())
    state.step += 1
    logged["lr"] = lr
    if skipped:
        buffers.restore()
    logged[NONFINITE] = float(skipped)
    return logged, outputs
