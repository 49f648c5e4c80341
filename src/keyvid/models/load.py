"""Networks from self-describing checkpoints, in eval mode (for inference and fine-tuning).

Three kinds of checkpoint hold inference networks:

- ``stage1``: detector + translator, config = a stage-1 config;
- ``stage2``: motion generator, config = a stage-2 config whose ``stage1`` names
  the stage-1 checkpoint that made its pseudo-labels;
- ``pipeline``: all three in one folder (what ``keyvid export`` makes of a stage-2
  run, and what a shipped model such as ``synth`` is), config =
  ``{"stage1": ..., "stage2": ...}``.

A ``classifier`` checkpoint holds the in-domain evaluator (``keyvid train classifier``).
The networks are built from the ``model`` section of the saved config alone, so loading
needs nothing of the trainers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from torch import nn

from keyvid.checkpoint import Checkpoint, load_checkpoint
from keyvid.config import from_dict
from keyvid.errors import KeyvidError
from keyvid.models.classifier import ActionClassifier, ActionClassifierConfig
from keyvid.models.motion import SegmentSampler, Stage2ModelConfig
from keyvid.models.stage1 import KeypointTranslator, Stage1ModelConfig
from keyvid.models.stage2 import build_motion_generator

T = TypeVar("T")

PIPELINE = "pipeline"


def load_stage1(checkpoint: str | Path | Checkpoint) -> tuple[KeypointTranslator, Checkpoint]:
    """The detector and translator of a stage-1 or pipeline checkpoint, in eval mode."""
    ckpt = _load(checkpoint, ("stage1", PIPELINE))
    raw = ckpt.config["stage1"] if ckpt.kind == PIPELINE else ckpt.config
    model = KeypointTranslator(_model_config(Stage1ModelConfig, raw))
    for name in ("detector", "translator"):
        _load_weights(getattr(model, name), ckpt, name)
    return model.eval(), ckpt


def load_motion(checkpoint: str | Path | Checkpoint) -> tuple[SegmentSampler, Checkpoint, dict]:
    """The motion generator of a stage-2 or pipeline checkpoint, in eval mode.

    Also returns the stage-2 config dict (its ``model.actions`` names the classes).
    """
    ckpt = _load(checkpoint, ("stage2", PIPELINE))
    raw = ckpt.config["stage2"] if ckpt.kind == PIPELINE else ckpt.config
    generator = build_motion_generator(_model_config(Stage2ModelConfig, raw).generator)
    _load_weights(generator, ckpt, "motion_generator")
    return generator.eval(), ckpt, raw


def load_classifier(checkpoint: str | Path | Checkpoint) -> tuple[ActionClassifier, Checkpoint]:
    """The action classifier of a ``classifier`` checkpoint, in eval mode."""
    ckpt = _load(checkpoint, ("classifier",))
    classifier = ActionClassifier(_model_config(ActionClassifierConfig, ckpt.config))
    _load_weights(classifier, ckpt, "action_classifier")
    return classifier.eval(), ckpt


def _model_config(cls: type[T], saved: dict) -> T:
    """The ``model`` section of a checkpoint's saved config as ``cls``."""
    return from_dict(cls, saved["model"], prefix="model.")


def _load(checkpoint: str | Path | Checkpoint, kinds: tuple[str, ...]) -> Checkpoint:
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    if ckpt.kind not in kinds:
        raise KeyvidError(
            f"{ckpt.path} is a {ckpt.kind!r} checkpoint; expected one of: {', '.join(kinds)}"
        )
    return ckpt


def _load_weights(net: nn.Module, ckpt: Checkpoint, name: str) -> None:
    state = ckpt.state_dict(name)
    if not state:
        raise KeyvidError(f"{ckpt.path} holds no {name} weights")
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise KeyvidError(
            f"{ckpt.path}: {name} weights do not match its config ({str(e).splitlines()[0]})"
        ) from None
