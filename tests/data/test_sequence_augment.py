"""Keypoint-sequence augmentation for stage 2: one random similarity per sequence."""

from __future__ import annotations

import torch

from keyvid.data.sequence_augment import KeypointAugmentConfig, augment_keypoint_sequences

B, T, K = 6, 5, 4


def sequences(seed: int = 0) -> torch.Tensor:
    return torch.rand(B, T, K, 2, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def augmented(x: torch.Tensor, config: KeypointAugmentConfig, seed: int) -> torch.Tensor:
    return augment_keypoint_sequences(x, config, torch.Generator().manual_seed(seed))


def pairwise(x: torch.Tensor) -> torch.Tensor:
    """(B, T, K, 2) -> (B, T·K, T·K) distances between every two points of a sequence."""
    flat = x.reshape(x.shape[0], -1, 2)
    return torch.cdist(flat, flat)


def test_none_is_the_identity():
    x = sequences()
    assert torch.equal(augmented(x, KeypointAugmentConfig.none(), seed=0), x)


def test_a_transform_is_one_similarity_per_sequence():
    x = sequences()
    y = augmented(x, KeypointAugmentConfig(), seed=1)
    assert y.shape == x.shape and not torch.allclose(x, y)
    before, after = pairwise(x), pairwise(y)
    ratio = after / before.clamp_min(1e-6)
    off_diagonal = ~torch.eye(T * K, dtype=torch.bool)
    scale = ratio[:, off_diagonal]  # (B, pairs): one scale per sequence, over all frames
    torch.testing.assert_close(scale, scale[:, :1].expand_as(scale), rtol=1e-4, atol=1e-4)
    assert ((scale[:, 0] >= 0.7 - 1e-4) & (scale[:, 0] <= 1.2 + 1e-4)).all()
    # The centre (0, 0) stays where it is: distances to it scale by the same factor.
    norms = y.norm(dim=-1) / x.norm(dim=-1)
    torch.testing.assert_close(norms, scale[:, :1, None].expand_as(norms), rtol=1e-4, atol=1e-4)


def test_same_generator_seed_same_transforms():
    x, config = sequences(), KeypointAugmentConfig()
    assert torch.equal(augmented(x, config, seed=5), augmented(x, config, seed=5))
    assert not torch.allclose(augmented(x, config, seed=5), augmented(x, config, seed=6))


def test_flip_only_mirrors_x():
    x = sequences()
    y = augmented(x, KeypointAugmentConfig(flip=True, rotation_deg=0.0, scale=(1.0, 1.0)), 2)
    assert torch.equal(y[..., 1], x[..., 1])
    same = (y[..., 0] == x[..., 0]).flatten(1).all(1)
    mirrored = (y[..., 0] == -x[..., 0]).flatten(1).all(1)
    assert (same ^ mirrored).all()  # each sequence entirely one or the other
    assert same.any() and mirrored.any()  # with 6 sequences both occur for this seed
