"""Keypoint quality: linear regression from learned keypoints to ground-truth joints.

The protocol of Jakab et al. 2018 (IMM) and Thewlis et al. 2017: learned
keypoints are never labelled, so their quality is how well a linear map (fit on
the training split) predicts the annotated joints of the test split. The error
is the mean Euclidean distance between predicted and true joints as a fraction
of the image size (in [-1, 1] coordinates the image is 2 units wide).
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from keyvid.data.datasets import frames_to_tensor
from keyvid.data.format import PreparedDataset
from keyvid.errors import KeyvidError
from keyvid.models.detector import KeypointDetector


def frame_rows(data: PreparedDataset, max_frames: int | None) -> np.ndarray:
    """Rows of the split to use: all of them, or ``max_frames`` evenly spaced ones."""
    total = sum(v.num_frames for v in data.videos)
    if max_frames is None or max_frames >= total:
        return np.arange(total)
    return np.linspace(0, total - 1, max_frames).round().astype(np.int64)


@torch.inference_mode()
def detect_rows(
    detector: KeypointDetector,
    data: PreparedDataset,
    rows: np.ndarray,
    *,
    batch_size: int = 128,
    progress: bool = False,
) -> np.ndarray:
    """(N, K, 2) keypoints of the given frame rows, images resized to the detector's input."""
    was_training = detector.training
    detector.eval()
    size = (detector.config.image_size, detector.config.image_size)
    device = next(detector.parameters()).device
    frames = data.all_frames  # (N_total, H, W, 3) memory map
    out = []
    for start in tqdm(range(0, len(rows), batch_size), desc="keypoints", disable=not progress):
        batch = frames_to_tensor(frames[rows[start : start + batch_size]], size).to(device)
        out.append(detector(batch).float().cpu().numpy())
    detector.train(was_training)
    return (
        np.concatenate(out) if out else np.zeros((0, detector.config.num_keypoints, 2), np.float32)
    )


def fit_linear_map(x: np.ndarray, y: np.ndarray, ridge: float = 1e-4) -> np.ndarray:
    """Least-squares (D+1, M) map from flattened keypoints (N, D) with a bias column.

    A tiny ridge term keeps the solve stable when keypoints collapse together
    (as they do in an untrained network). NaN targets (joints a dataset marks
    invisible, as Penn Action does) are left out: each output column is then fit
    on the rows where it is known, and a column known nowhere maps to NaN.
    """
    xb = np.concatenate([x, np.ones((len(x), 1))], axis=1).astype(np.float64)
    y = y.astype(np.float64)
    known = np.isfinite(y)
    if known.all():
        return _ridge_solve(xb, y, ridge)
    w = np.full((xb.shape[1], y.shape[1]), np.nan)
    for mask in np.unique(known, axis=1).T:  # one solve per distinct pattern of known rows
        columns = (known == mask[:, None]).all(axis=0)
        if mask.any():
            w[:, columns] = _ridge_solve(xb[mask], y[mask][:, columns], ridge)
    return w


def _ridge_solve(xb: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    gram = xb.T @ xb + ridge * len(xb) * np.eye(xb.shape[1])
    return np.linalg.solve(gram, xb.T @ y)


def regression_errors(
    train_kp: np.ndarray, train_joints: np.ndarray, test_kp: np.ndarray, test_joints: np.ndarray
) -> dict:
    """Fit on train, measure on test; errors as fractions of the image size.

    Joints that are NaN (invisible) are left out of the fit and of every mean.
    """
    n_joints = train_joints.shape[1]
    w = fit_linear_map(
        train_kp.reshape(len(train_kp), -1), train_joints.reshape(len(train_joints), -1)
    )

    def predict(kp: np.ndarray) -> np.ndarray:
        xb = np.concatenate([kp.reshape(len(kp), -1), np.ones((len(kp), 1))], axis=1)
        return (xb @ w).reshape(len(kp), n_joints, 2)

    test_dist = np.linalg.norm(predict(test_kp) - test_joints, axis=-1) / 2.0  # (N, J)
    train_dist = np.linalg.norm(predict(train_kp) - train_joints, axis=-1) / 2.0
    return {
        "test_error": float(np.nanmean(test_dist)),
        "train_error": float(np.nanmean(train_dist)),
        "per_joint_test_error": _nanmean_columns(test_dist).tolist(),
    }


def _nanmean_columns(dist: np.ndarray) -> np.ndarray:
    """Column means ignoring NaN; a column with no known value stays NaN, without a warning."""
    known = np.isfinite(dist)
    total = np.where(known, dist, 0.0).sum(axis=0)
    count = known.sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def keypoint_regression_error(
    detector: KeypointDetector,
    train: PreparedDataset,
    test: PreparedDataset,
    *,
    max_train_frames: int | None = 4000,
    max_test_frames: int | None = None,
    progress: bool = False,
) -> dict:
    """The IMM-protocol error of ``detector`` (see module docstring), with per-joint errors."""
    for data in (train, test):
        if not data.has_joints:
            raise KeyvidError(
                f"{data.root} has no ground-truth joints: keypoint quality needs them"
            )
    train_rows = frame_rows(train, max_train_frames)
    test_rows = frame_rows(test, max_test_frames)
    train_kp = detect_rows(detector, train, train_rows, progress=progress)
    test_kp = detect_rows(detector, test, test_rows, progress=progress)
    result = regression_errors(
        train_kp, train.all_joints[train_rows], test_kp, test.all_joints[test_rows]
    )
    names = test.joint_names
    result["per_joint"] = dict(zip(names, result.pop("per_joint_test_error"), strict=True))
    result["train_frames"], result["test_frames"] = len(train_rows), len(test_rows)
    return result
