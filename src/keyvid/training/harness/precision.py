"""Numeric precision and memory layout of a training step (``optim.precision``,
``optim.channels_last``, ``optim.compile``).

- ``fp32``: the default, bit-exact resume on CPU.
- ``bf16``: autocast to bfloat16 (CPU and GPU); same range as fp32, no loss scaling.
- ``fp16``: autocast to float16 with a dynamic loss scale (``GradScaler``); GPU only
  (on a CPU it falls back to bf16, with a warning).

A step whose loss or gradients are not finite is skipped either way
(``step_if_finite``); with fp16 the scaler also lowers its scale then, as usual.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import torch
from torch import nn

from keyvid.training.harness.state import step_if_finite

logger = logging.getLogger("keyvid")

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class Precision:
    """How a trainer runs its forward, backward and optimiser step."""

    name: str = "fp32"
    device_type: str = "cpu"
    scaler: torch.amp.GradScaler | None = None

    @classmethod
    def resolve(cls, name: str, device: torch.device) -> Precision:
        """``name`` on ``device``, or the fallback (logged) where it is unsupported."""
        if name == "fp16" and device.type != "cuda":
            logger.warning("optim.precision=fp16 needs a GPU; using bf16 on %s", device.type)
            name = "bf16"
        if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            logger.warning("this GPU has no bfloat16 support; using fp32")
            name = "fp32"
        scaler = torch.amp.GradScaler(device.type) if name == "fp16" else None
        return cls(name, device.type, scaler)

    @property
    def dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.name)

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context for forward passes and losses (a no-op in fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> bool:
        """Unscale (fp16), then step unless something is not finite; True if it stepped."""
        if self.scaler is None:
            return step_if_finite(optimizer, loss)
        self.scaler.unscale_(optimizer)
        stepped = step_if_finite(optimizer, loss)
        self.scaler.update()
        return stepped

    def state_dict(self) -> dict:
        return {} if self.scaler is None else {"scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])


FP32 = Precision()  # the default of every train_step: no autocast, no scaler


def to_channels_last(module: nn.Module) -> nn.Module:
    """Convolution weights channels-last (NHWC; NDHWC for 3-D ones), in place: faster
    convolutions on recent CPUs and tensor-core GPUs. Parameters stay the same objects."""
    formats = {4: torch.channels_last, 5: torch.channels_last_3d}
    with torch.no_grad():
        for param in module.parameters():
            if param.dim() in formats:
                param.data = param.data.contiguous(memory_format=formats[param.dim()])
    return module


def compiled(module: nn.Module) -> nn.Module:
    """``torch.compile`` the module; where compiling fails (no C++ compiler, an
    unsupported op), run it eagerly instead, with the reason logged once."""
    import torch._dynamo

    # Dynamo's own fallback: a graph that fails to compile runs eagerly, with a warning.
    torch._dynamo.config.suppress_errors = True
    try:
        return torch.compile(module)
    except Exception as e:  # compile raises many kinds (RuntimeError, missing backends)
        logger.warning("torch.compile is unavailable (%s): training eagerly", e)
        return module
