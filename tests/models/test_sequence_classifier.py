"""The keypoint-sequence action classifier: shapes, inputs, and that it learns motions."""

from __future__ import annotations

import torch

from keyvid.metrics.motion_recognition import classify_sequences, fit_sequence_classifier
from keyvid.models.sequence_classifier import SequenceClassifier, SequenceClassifierConfig


def moving_sequences(
    n: int, *, frames: int = 8, keypoints: int = 4, seed: int = 0, still: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """n (frames, keypoints, 2) sequences from random first poses: even ones move up (-y),
    odd ones right (+x), at random speeds, with a little jitter; labels 0 and 1."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    first = torch.rand(n, 1, keypoints, 2, generator=g) * 1.2 - 0.6  # (n, 1, K, 2)
    time = torch.linspace(0, 1, frames)[None, :, None]  # (1, T, 1)
    speed = 0.1 + 0.1 * torch.rand(n, 1, 1, generator=g)  # (n, 1, 1)
    travel = speed * time * (0.0 if still else 1.0)  # (n, T, 1)
    moved = torch.zeros(n, frames, keypoints, 2)
    up = (labels == 0)[:, None, None]  # (n, 1, 1)
    moved[..., 1] = torch.where(up, -travel, 0.0)
    moved[..., 0] = torch.where(up, 0.0, travel)
    jitter = 0.005 * torch.randn(n, frames, keypoints, 2, generator=g)
    return first + moved + jitter, labels


def test_logits_features_and_inputs_have_their_shapes():
    torch.manual_seed(0)
    config = SequenceClassifierConfig(num_keypoints=4, num_actions=3, hidden=8, features=6)
    model = SequenceClassifier(config).eval()
    sequences = torch.rand(5, 7, 4, 2) * 2 - 1  # (B, T, K, 2)
    logits, features = model(sequences)
    assert logits.shape == (5, 3) and features.shape == (5, 6)
    assert (features.abs() <= 1).all()  # after the tanh
    inputs = model.inputs(sequences)
    assert inputs.shape == (5, 7, 16)  # (B, T, 2K displacement + 2K first pose)
    assert torch.equal(inputs[:, 0, :8], torch.zeros(5, 8))  # no displacement at t = 0
    assert torch.equal(inputs[:, 3, 8:], sequences[:, 0].flatten(1))  # the first pose


def test_it_learns_to_tell_two_motions_apart_far_above_chance():
    train, train_labels = moving_sequences(64, seed=0)
    test, test_labels = moving_sequences(64, seed=1)
    model = fit_sequence_classifier(train, train_labels, 2, steps=60, seed=0)
    logits, _ = classify_sequences(model, test)
    assert (logits.argmax(1) == test_labels).float().mean() >= 0.9  # chance: 0.5
    # The motion, not the first pose, tells them apart: still sequences are not learnt.
    still, still_labels = moving_sequences(64, seed=0, still=True)
    blind = fit_sequence_classifier(still, still_labels, 2, steps=60, seed=0)
    logits, _ = classify_sequences(blind, moving_sequences(64, seed=1, still=True)[0])
    assert (logits.argmax(1) == test_labels).float().mean() < 0.8


def test_fitting_is_deterministic_and_leaves_the_global_generator_alone():
    sequences, labels = moving_sequences(16)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = fit_sequence_classifier(sequences, labels, 2, steps=5, seed=7)
    assert torch.equal(torch.rand(3), before)
    b = fit_sequence_classifier(sequences, labels, 2, steps=5, seed=7)
    c = fit_sequence_classifier(sequences, labels, 2, steps=5, seed=8)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    assert not torch.equal(a.head.weight, c.head.weight)
    assert not a.training
