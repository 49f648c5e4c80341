"""Stage-2 networks: the motion generator M (cVAE over keypoint sequences) and D_seq."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from keyvid.models.motion import (
    MotionGenerator,
    MotionGeneratorConfig,
    SequenceDiscriminator,
    SequenceDiscriminatorConfig,
    Stage2ModelConfig,
)

K, A, B, T = 4, 3, 2, 5


def generator(*, perturbed: bool = True, **kw) -> MotionGenerator:
    """A tiny generator; ``perturbed`` replaces the zero offsets head so the output moves."""
    torch.manual_seed(0)
    config = dict(num_keypoints=K, num_actions=A, hidden=8, layers=2, latent=4, length=4)
    gen = MotionGenerator(MotionGeneratorConfig(**{**config, **kw}))
    if perturbed:
        nn.init.normal_(gen.to_offsets.weight, std=0.5)
        nn.init.normal_(gen.to_offsets.bias, std=0.1)
    return gen.eval()


def inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    k0 = torch.rand(B, K, 2, generator=g) * 2 - 1
    sequence = torch.rand(B, T, K, 2, generator=g) * 2 - 1
    action = torch.tensor([0, 2])
    return k0, sequence, action


def draw(gen: MotionGenerator, k0, action, frames: int, seed: int) -> torch.Tensor:
    return gen.sample(k0, action, frames, torch.Generator().manual_seed(seed))


def test_forward_returns_reconstruction_and_posterior():
    gen = generator()
    k0, sequence, action = inputs()
    recon, mu, logvar = gen(k0, sequence, action)
    assert recon.shape == (B, T, K, 2)
    assert mu.shape == logvar.shape == (B, 4)
    assert torch.isfinite(recon).all()


def test_sample_shape_and_seed():
    gen = generator()
    k0, _, action = inputs()
    a = draw(gen, k0, action, 3, seed=0)
    assert a.shape == (B, 3, K, 2)
    assert torch.equal(a, draw(gen, k0, action, 3, seed=0))
    assert not torch.allclose(a, draw(gen, k0, action, 3, seed=1))


def test_sample_beyond_the_training_length_continues_in_segments():
    gen = generator()  # length 4
    k0, _, action = inputs()
    long = draw(gen, k0, action, 10, seed=3)
    assert long.shape == (B, 10, K, 2) and torch.isfinite(long).all()
    # The first segment is what a call of one segment draws with the same seed ...
    assert torch.equal(long[:, :4], draw(gen, k0, action, 4, seed=3))
    # ... and the next starts from its last keypoints with the next z of the generator.
    g = torch.Generator().manual_seed(3)
    torch.randn(B, 4, generator=g)  # the first segment's z
    z2 = torch.randn(B, 4, generator=g)
    start = long[:, 3]
    with torch.no_grad():
        second = gen.decode(z2, start, gen.condition(start, action), 4)
    torch.testing.assert_close(long[:, 4:8], second)


def test_generator_without_action_ignores_it():
    gen = generator(action=False)
    k0, sequence, action = inputs()
    recon, _, _ = gen(k0, sequence, None)
    assert recon.shape == (B, T, K, 2)
    assert torch.equal(draw(gen, k0, None, 6, seed=0), draw(gen, k0, action, 6, seed=0))
    # Its condition is k0 alone: no one-hot inputs in the encoder.
    assert gen.encoder.input_size == 4 * K


def test_generator_with_action_needs_one():
    gen = generator()
    k0, sequence, _ = inputs()
    with pytest.raises(ValueError, match="conditioned on an action"):
        gen(k0, sequence, None)
    with pytest.raises(ValueError, match="conditioned on an action"):
        gen.sample(k0, None, 3)


def test_the_action_changes_the_motion():
    gen = generator()
    k0, _, _ = inputs()
    a = draw(gen, k0, torch.tensor([0, 0]), 4, seed=0)
    b = draw(gen, k0, torch.tensor([1, 1]), 4, seed=0)
    assert not torch.allclose(a, b)


def test_fresh_generator_stands_still():
    gen = generator(perturbed=False)
    k0, _, action = inputs()
    z = torch.randn(B, 4)
    out = gen.decode(z, k0, gen.condition(k0, action), 6)
    assert torch.equal(out, k0[:, None].expand(B, 6, K, 2))
    assert torch.equal(draw(gen, k0, action, 9, seed=0), k0[:, None].expand(B, 9, K, 2))


def test_gradients_reach_the_encoder_through_the_reconstruction():
    # Perturbed: the zero-initialised offsets head would block every gradient upstream of it.
    gen = generator().train()
    k0, sequence, action = inputs()
    recon, _, _ = gen(k0, sequence, action)
    (recon - sequence).abs().mean().backward()  # no KL term: only the reconstruction path
    for net in (gen.encoder, gen.to_posterior, gen.decoder_input, gen.decoder):
        grads = [p.grad for p in net.parameters()]
        assert all(g is not None for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0


def test_discriminator_gives_one_logit_per_sequence():
    torch.manual_seed(0)
    disc = SequenceDiscriminator(SequenceDiscriminatorConfig(num_keypoints=K, hidden=8))
    _, sequence, _ = inputs()
    logits = disc(sequence)
    assert logits.shape == (B,) and torch.isfinite(logits).all()


def test_conditional_discriminator_reads_the_first_pose_and_the_action():
    torch.manual_seed(0)
    config = SequenceDiscriminatorConfig(num_keypoints=K, num_actions=A, hidden=8, conditional=True)
    disc = SequenceDiscriminator(config)
    k0, sequence, action = inputs()
    logits = disc(sequence, k0, action)
    assert logits.shape == (B,)
    assert not torch.allclose(logits, disc(sequence, k0, (action + 1) % A))
    assert not torch.allclose(logits, disc(sequence, -k0, action))


def test_stage2_model_config_shares_keypoints_and_counts_actions():
    config = Stage2ModelConfig(num_keypoints=7, actions=("a", "b"))
    assert config.generator.num_keypoints == config.discriminator.num_keypoints == 7
    assert config.generator.num_actions == config.discriminator.num_actions == 2


def test_learned_prior_starts_as_the_standard_one_and_moves_the_samples():
    k0, _, action = inputs()
    standard = generator(prior="standard")
    learned = generator(prior="learned")
    learned.load_state_dict(standard.state_dict(), strict=False)  # same weights but the prior net
    cond = learned.condition(k0, action)
    mu, logvar = learned.prior(cond)
    assert torch.equal(mu, torch.zeros_like(mu)) and torch.equal(logvar, torch.zeros_like(mu))
    torch.testing.assert_close(draw(learned, k0, action, 6, 0), draw(standard, k0, action, 6, 0))
    nn.init.normal_(learned.prior_net[-1].bias, std=1.0)  # shift the prior's mean
    assert not torch.allclose(draw(learned, k0, action, 6, 0), draw(standard, k0, action, 6, 0))


def test_scale_multiplies_the_offsets_from_the_start_of_each_segment():
    gen = generator()  # length 4: 6 frames are two segments
    k0, _, action = inputs()
    raw = gen.sample(k0, action, 6, torch.Generator().manual_seed(0), scale=1.0)
    double = gen.sample(k0, action, 6, torch.Generator().manual_seed(0), scale=2.0)
    torch.testing.assert_close(double[:, :4], k0[:, None] + 2 * (raw[:, :4] - k0[:, None]))
    # The second segment starts where the scaled first one ended.
    still = gen.sample(k0, action, 6, torch.Generator().manual_seed(0), scale=0.0)
    torch.testing.assert_close(still, k0[:, None].expand(-1, 6, -1, -1))


def test_measured_travel_scale_is_applied_per_action():
    gen = generator()
    k0, _, action = inputs()  # actions 0 and 2
    gen.travel_scale.copy_(torch.tensor([3.0, 1.0, 0.5]))
    calibrated = draw(gen, k0, action, 3, seed=0)
    for i, factor in enumerate((3.0, 0.5)):
        scaled = gen.sample(k0, action, 3, torch.Generator().manual_seed(0), scale=factor)
        torch.testing.assert_close(calibrated[i], scaled[i])


def test_travel_scale_travels_with_the_weights_and_old_weights_load_unscaled():
    gen = generator()
    gen.travel_scale.copy_(torch.tensor([2.0, 1.5, 0.7]))
    fresh = generator(perturbed=False)
    fresh.load_state_dict(gen.state_dict())
    assert torch.equal(fresh.travel_scale, gen.travel_scale)
    old = {k: v for k, v in gen.state_dict().items() if k != "travel_scale"}
    fresh.load_state_dict(old)  # a checkpoint from before calibration
    assert torch.equal(fresh.travel_scale, torch.ones(A))
    assert generator(action=False).travel_scale.shape == (1,)
