"""Action recognition with the in-domain evaluator: clips, logits, features, accuracy.

Real and generated videos are read the same way: ``frames`` frames spread over the
video from its first frame (``sequence_indices`` without a random start), so that a
generated video and the real video it was made from are sampled at the same rate.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from keyvid.data.datasets import frames_to_tensor, sequence_indices
from keyvid.models.classifier import ActionClassifier


def clip_positions(length: int, frames: int) -> np.ndarray:
    """Integer indices of the ``frames`` frames the classifier reads from a video."""
    return np.rint(sequence_indices(length, frames, None)).astype(np.int64)


def evaluation_clip(video: torch.Tensor, frames: int) -> torch.Tensor:
    """(T, 3, H, W) video in [0, 1] -> (frames, 3, H, W): the classifier's view of it."""
    return video[torch.from_numpy(clip_positions(video.shape[0], frames))]


def evaluation_clip_of(video: np.ndarray, frames: int) -> torch.Tensor:
    """(T, H, W, 3) uint8 stored video -> (frames, 3, H, W) clip, reading only those frames."""
    return frames_to_tensor(video[clip_positions(len(video), frames)])


@torch.no_grad()
def classify(
    classifier: ActionClassifier, videos: Iterable[torch.Tensor], *, batch_size: int = 32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N, num_actions) and penultimate features (N, F) of (T, 3, H, W) videos in [0, 1]."""
    classifier.eval()
    device = next(classifier.parameters()).device
    frames = classifier.config.frames
    logits, features, batch = [], [], []

    def flush() -> None:
        clips = torch.stack(batch).to(device)  # (B, frames, 3, H, W)
        feats = classifier.features(clips)
        features.append(feats.cpu())
        logits.append(classifier.head(feats).cpu())
        batch.clear()

    for video in videos:
        batch.append(evaluation_clip(video, frames))
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if not logits:
        raise ValueError("no videos to classify")
    return torch.cat(logits), torch.cat(features)


@torch.no_grad()
def per_frame_features(
    classifier: ActionClassifier, frames: torch.Tensor, *, batch_size: int = 256
) -> torch.Tensor:
    """(N, 3, H, W) frames in [0, 1] -> (N, D) spatial features of each frame alone
    (``ActionClassifier.frame_features``), in batches."""
    classifier.eval()
    device = next(classifier.parameters()).device
    parts = [classifier.frame_features(b.to(device)).cpu() for b in frames.split(batch_size)]
    return torch.cat(parts)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of videos whose highest logit is their label."""
    return float((logits.argmax(1) == labels).float().mean())


def per_class_accuracy(
    logits: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> list[float | None]:
    """Accuracy among the videos of each class (None for a class with no video)."""
    hits = logits.argmax(1) == labels
    return [
        float(hits[labels == c].float().mean()) if bool((labels == c).any()) else None
        for c in range(num_classes)
    ]
