"""Evaluation entry points that load checkpoints (the CLI calls these)."""

from __future__ import annotations

from pathlib import Path

import torch

from keyvid.data.format import PreparedDataset
from keyvid.evaluation.keypoints import keypoint_regression_error
from keyvid.models.detector import KeypointDetector
from keyvid.pipeline.loading import load_stage1


def evaluate_keypoints(
    checkpoint: str | Path, data: str | Path, *, max_train_frames: int | None = 8000
) -> dict:
    """IMM-protocol keypoint error of a stage-1 checkpoint, beside an untrained detector's."""
    model, ckpt = load_stage1(checkpoint)
    train, test = PreparedDataset(data, "train"), PreparedDataset(data, "test")
    result = keypoint_regression_error(
        model.detector, train, test, max_train_frames=max_train_frames, progress=True
    )
    torch.manual_seed(0)
    untrained = KeypointDetector(model.detector.config)
    reference = keypoint_regression_error(untrained, train, test, max_train_frames=max_train_frames)
    return {
        "checkpoint": str(checkpoint),
        "step": ckpt.step,
        "data": str(data),
        "test_error": result["test_error"],
        "untrained_test_error": reference["test_error"],
        "ratio_to_untrained": result["test_error"] / reference["test_error"],
        "train_error": result["train_error"],
        "per_joint": result["per_joint"],
        "train_frames": result["train_frames"],
        "test_frames": result["test_frames"],
    }
