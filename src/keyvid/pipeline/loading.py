"""Build trained networks from self-describing checkpoints.

Three kinds of checkpoint hold inference networks:

- ``stage1``: detector + translator, config = a stage-1 config;
- ``stage2``: motion generator, config = a stage-2 config whose ``stage1`` names
  the stage-1 checkpoint that made its pseudo-labels;
- ``pipeline``: all three in one folder (what ``keyvid export`` makes of a stage-2
  run, and what a shipped model such as ``synth`` is), config =
  ``{"stage1": ..., "stage2": ...}``.

A ``classifier`` checkpoint holds the in-domain evaluator (``keyvid train classifier``).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from keyvid.errors import KeyvidError
from keyvid.models.classifier import ActionClassifier
from keyvid.models.motion import MotionGenerator
from keyvid.models.stage1 import KeypointTranslator
from keyvid.training.checkpoint import Checkpoint, load_checkpoint, write_model_folder

PIPELINE = "pipeline"


def load_stage1(checkpoint: str | Path | Checkpoint) -> tuple[KeypointTranslator, Checkpoint]:
    """The detector and translator of a stage-1 or pipeline checkpoint, in eval mode."""
    from keyvid.training.stage1 import load_stage1_config

    ckpt = _load(checkpoint, ("stage1", PIPELINE))
    config = load_stage1_config(ckpt.config["stage1"] if ckpt.kind == PIPELINE else ckpt.config)
    model = KeypointTranslator(config.model)
    for name in ("detector", "translator"):
        _load_weights(getattr(model, name), ckpt, name)
    return model.eval(), ckpt


def load_motion(checkpoint: str | Path | Checkpoint) -> tuple[MotionGenerator, Checkpoint, dict]:
    """The motion generator of a stage-2 or pipeline checkpoint, in eval mode.

    Also returns the stage-2 config dict (its ``model.actions`` names the classes).
    """
    from keyvid.training.stage2 import load_stage2_config

    ckpt = _load(checkpoint, ("stage2", PIPELINE))
    raw = ckpt.config["stage2"] if ckpt.kind == PIPELINE else ckpt.config
    config = load_stage2_config(raw)
    generator = MotionGenerator(config.model.generator)
    _load_weights(generator, ckpt, "motion_generator")
    return generator.eval(), ckpt, raw


def load_classifier(checkpoint: str | Path | Checkpoint) -> tuple[ActionClassifier, Checkpoint]:
    """The action classifier of a ``classifier`` checkpoint, in eval mode."""
    from keyvid.training.classifier import load_classifier_config

    ckpt = _load(checkpoint, ("classifier",))
    classifier = ActionClassifier(load_classifier_config(ckpt.config).model)
    _load_weights(classifier, ckpt, "action_classifier")
    return classifier.eval(), ckpt


def stage1_reference(stage2: Checkpoint) -> str:
    """The stage-1 checkpoint a stage-2 checkpoint was trained on (its config's ``stage1``)."""
    return str(stage2.config["stage1"])


def check_keypoint_counts(stage1: KeypointTranslator, motion: MotionGenerator, where: str) -> None:
    k1, k2 = stage1.config.num_keypoints, motion.config.num_keypoints
    if k1 != k2:
        raise KeyvidError(
            f"{where}: the stage-1 detector has {k1} keypoints but the motion generator "
            f"was trained on {k2}; pair the stage-2 checkpoint with the stage 1 that made "
            "its pseudo-labels"
        )


def export_pipeline(stage2: str | Path, dest: Path, *, stage1: str | Path | None = None) -> Path:
    """Bundle a stage-2 checkpoint with its stage 1 into one ``pipeline`` folder at ``dest``."""
    motion, ckpt2, raw2 = load_motion(stage2)
    if ckpt2.kind == PIPELINE:
        raise KeyvidError(f"{ckpt2.path} is already a pipeline; copy the folder instead")
    model, ckpt1 = load_stage1(stage1 if stage1 is not None else stage1_reference(ckpt2))
    check_keypoint_counts(model, motion, str(ckpt2.path))
    raw1 = ckpt1.config["stage1"] if ckpt1.kind == PIPELINE else ckpt1.config
    weights = {k: v for k, v in ckpt1.weights.items() if k.split(".", 1)[0] in _STAGE1_NETS}
    weights.update({k: v for k, v in ckpt2.weights.items() if k.startswith("motion_generator.")})
    return write_model_folder(
        dest,
        weights=weights,
        config={"stage1": raw1, "stage2": raw2},
        kind=PIPELINE,
        step=ckpt2.step,
        source=f"stage1: {ckpt1.path} (step {ckpt1.step}); stage2: {ckpt2.path}",
    )


_STAGE1_NETS = ("detector", "translator")


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
