"""Build trained networks from self-describing checkpoints."""

from __future__ import annotations

from pathlib import Path

from keyvid.errors import KeyvidError
from keyvid.models.stage1 import KeypointTranslator
from keyvid.training.checkpoint import Checkpoint, load_checkpoint


def load_stage1(checkpoint: str | Path) -> tuple[KeypointTranslator, Checkpoint]:
    """The detector and translator of a stage-1 checkpoint, in eval mode on the CPU."""
    from keyvid.training.stage1 import KIND, load_stage1_config

    ckpt = load_checkpoint(checkpoint, kind=KIND)
    config = load_stage1_config(ckpt.config)
    model = KeypointTranslator(config.model)
    for name in ("detector", "translator"):
        try:
            getattr(model, name).load_state_dict(ckpt.state_dict(name))
        except RuntimeError as e:
            raise KeyvidError(
                f"{ckpt.path}: {name} weights do not match its config ({str(e).splitlines()[0]})"
            ) from None
    return model.eval(), ckpt
