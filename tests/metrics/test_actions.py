"""Reading videos for the action classifier: clip positions, batching, accuracy."""

from __future__ import annotations

import numpy as np
import torch

from keyvid.metrics.actions import (
    accuracy,
    classify,
    clip_positions,
    evaluation_clip_of,
    per_class_accuracy,
)
from keyvid.models.classifier import ActionClassifier, ActionClassifierConfig


def test_real_and_generated_videos_are_read_at_the_same_rate():
    # A 40-frame real video and the 33-frame window generated from it: stride 2 from frame 0.
    assert clip_positions(40, 16).tolist() == list(range(0, 32, 2))
    assert clip_positions(33, 16).tolist() == list(range(0, 32, 2))
    assert clip_positions(5, 3).tolist() == [0, 1, 2]
    # Shorter than the clip: spread over the whole video, frames repeat.
    assert clip_positions(3, 5).tolist() == [0, 0, 1, 2, 2]


def test_a_stored_video_becomes_a_float_clip_of_its_chosen_frames():
    video = np.arange(10, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 3), np.uint8)
    clip = evaluation_clip_of(video, 5)  # stride 2: frames 0, 2, 4, 6, 8
    assert clip.shape == (5, 3, 4, 4) and clip.dtype == torch.float32
    assert torch.allclose(clip[:, 0, 0, 0] * 255, torch.tensor([0.0, 2, 4, 6, 8]))


def test_classify_does_not_depend_on_the_batch_size():
    torch.manual_seed(0)
    net = ActionClassifier(ActionClassifierConfig(num_actions=3, frames=4, channels=4, features=8))
    videos = [torch.rand(9, 3, 16, 16) for _ in range(5)]
    logits, features = classify(net, videos, batch_size=2)
    again, _ = classify(net, videos, batch_size=5)
    assert logits.shape == (5, 3) and features.shape == (5, 8)
    assert torch.allclose(logits, again, atol=1e-5)
    assert torch.allclose(net.head(features), logits, atol=1e-6)


def test_accuracy_counts_the_top_logit():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 1])) == 0.75


def test_per_class_accuracy_and_absent_classes():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 0.0], [1.0, 0.0, 0.0]])
    assert per_class_accuracy(logits, torch.tensor([0, 1, 1]), 3) == [1.0, 0.5, None]
