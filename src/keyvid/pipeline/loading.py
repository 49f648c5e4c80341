"""A stage-2 checkpoint bundled with its stage 1 into one ``pipeline`` folder (``keyvid
export``), and the check that the two fit. Loading networks is ``keyvid.models.load``."""

from __future__ import annotations

from pathlib import Path

import torch

from keyvid.checkpoint import Checkpoint, write_model_folder
from keyvid.errors import KeyvidError
from keyvid.models.load import PIPELINE, load_motion, load_stage1
from keyvid.models.motion import MotionGenerator
from keyvid.models.stage1 import KeypointTranslator


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
    """Bundle a stage-2 checkpoint with its stage 1 into one ``pipeline`` folder at ``dest``.

    ``stage2`` may also be a pipeline when ``stage1`` is given: its motion generator with
    another renderer. That stage 1 must keep the pipeline's detector (trained with
    ``freeze_detector=true`` from it), whose keypoints the motion generator learnt.
    """
    motion, ckpt2, raw2 = load_motion(stage2)
    if ckpt2.kind == PIPELINE and stage1 is None:
        raise KeyvidError(
            f"{ckpt2.path} is already a pipeline; copy the folder, or pass --stage1 to give "
            "it another translator"
        )
    model, ckpt1 = load_stage1(stage1 if stage1 is not None else stage1_reference(ckpt2))
    check_keypoint_counts(model, motion, str(ckpt2.path))
    if ckpt2.kind == PIPELINE:
        _check_same_detector(ckpt1, ckpt2)
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


def _check_same_detector(stage1: Checkpoint, pipeline: Checkpoint) -> None:
    """Refuse a stage 1 whose detector differs from the pipeline's: the motion generator
    would be fed keypoints it never learnt."""
    ours = {k: v for k, v in stage1.weights.items() if k.startswith("detector.")}
    theirs = {k: v for k, v in pipeline.weights.items() if k.startswith("detector.")}
    same = ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    if not same:
        raise KeyvidError(
            f"{stage1.path} has another keypoint detector than {pipeline.path}; only a stage 1 "
            f"trained with freeze_detector=true init_from={pipeline.path} can replace its "
            "translator (otherwise bundle it with the stage 2 trained on its keypoints)"
        )
