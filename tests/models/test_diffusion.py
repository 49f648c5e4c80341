"""The diffusion motion generator: schedule, denoiser, guidance and DDIM sampling."""

from __future__ import annotations

import pytest
import torch

from keyvid.errors import KeyvidError
from keyvid.models.diffusion import (
    DiffusionMotionGenerator,
    cosine_alphas_cumprod,
    sampling_timesteps,
)
from keyvid.models.motion import DiffusionConfig, MotionGeneratorConfig, Stage2ModelConfig
from keyvid.models.stage2 import build_motion_generator

K, A, B, T = 4, 3, 2, 5


def generator(**kw) -> DiffusionMotionGenerator:
    torch.manual_seed(0)
    diffusion = DiffusionConfig(width=16, depth=2, heads=2, timesteps=50, sample_steps=5)
    for key in [k for k in kw if hasattr(diffusion, k)]:
        setattr(diffusion, key, kw.pop(key))
    config = MotionGeneratorConfig(
        kind="diffusion", num_keypoints=K, num_actions=A, length=T, diffusion=diffusion, **kw
    )
    gen = build_motion_generator(config)
    assert isinstance(gen, DiffusionMotionGenerator)
    return gen.eval()


def inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    k0 = torch.rand(B, K, 2, generator=g) * 2 - 1
    future = k0[:, None] + 0.1 * torch.randn(B, T, K, 2, generator=g)
    return k0, future, torch.tensor([0, 2])


def draw(gen, k0, action, frames: int, seed: int, **kw) -> torch.Tensor:
    return gen.sample(k0, action, frames, torch.Generator().manual_seed(seed), **kw)


def test_cosine_schedule_falls_from_one_towards_zero():
    ab = cosine_alphas_cumprod(1000)
    assert ab.shape == (1000,)
    assert 0.999 < float(ab[0]) < 1 and float(ab[-1]) < 1e-3
    assert bool((ab[1:] < ab[:-1]).all())


def test_sampling_visits_the_noisiest_level_first_and_ends_at_zero():
    assert sampling_timesteps(1000, 20)[0] == 999 and sampling_timesteps(1000, 20)[-1] == 0
    assert len(sampling_timesteps(1000, 20)) == 20
    assert sampling_timesteps(10, 50) == list(range(9, -1, -1))  # more steps than levels


def test_clean_sample_round_trips_through_the_offsets():
    gen = generator()
    k0, future, _ = inputs()
    gen.set_offset_scale(torch.cat([k0[:, None], future], dim=1))
    expected = (future - k0[:, None]).pow(2).mean().sqrt()
    torch.testing.assert_close(gen.offset_scale, expected)
    x0 = gen.to_clean(k0, future)
    assert x0.shape == (B, T, 2 * K)
    assert abs(float(x0.pow(2).mean()) - 1) < 1e-4  # unit spread: what the noise expects
    torch.testing.assert_close(gen.from_clean(k0, x0), future)


def test_denoiser_reads_the_noise_level_the_first_pose_and_the_action():
    gen = generator()
    k0, _, action = inputs()
    x = torch.randn(B, T, 2 * K)
    t = torch.tensor([10, 40])
    out = gen(x, t, k0, action)
    assert out.shape == (B, T, 2 * K) and torch.isfinite(out).all()
    assert not torch.allclose(out, gen(x, t + 5, k0, action))
    assert not torch.allclose(out, gen(x, t, -k0, action))
    assert not torch.allclose(out, gen(x, t, k0, (action + 1) % A))
    assert not torch.allclose(out, gen(x, t, k0, torch.full_like(action, gen.null_action)))


def test_guidance_mixes_the_conditioned_and_unconditioned_predictions():
    gen = generator()
    k0, _, action = inputs()
    x, t = torch.randn(B, T, 2 * K), torch.tensor([10, 40])
    with torch.no_grad():
        cond = gen(x, t, k0, action)
        none = gen(x, t, k0, torch.full_like(action, gen.null_action))
        torch.testing.assert_close(gen.guided(x, t, k0, action, 1.0), cond)
        torch.testing.assert_close(gen.guided(x, t, k0, action, 0.0), none)
        torch.testing.assert_close(gen.guided(x, t, k0, action, 3.0), none + 3 * (cond - none))


def test_sampling_is_deterministic_per_seed_and_continues_in_segments():
    gen = generator()
    k0, _, action = inputs()
    a = draw(gen, k0, action, 12, seed=0)  # length 5: three segments
    assert a.shape == (B, 12, K, 2) and torch.isfinite(a).all()
    assert torch.equal(a, draw(gen, k0, action, 12, seed=0))
    assert not torch.allclose(a, draw(gen, k0, action, 12, seed=1))
    torch.testing.assert_close(a[:, :5], draw(gen, k0, action, 5, seed=0))
    # Guidance changes the motion; the configured default is what None means.
    assert not torch.allclose(a, draw(gen, k0, action, 12, seed=0, guidance=1.0))
    torch.testing.assert_close(a, draw(gen, k0, action, 12, seed=0, guidance=2.5))


def test_scale_multiplies_the_offsets_as_for_the_cvae():
    gen = generator()
    k0, _, action = inputs()
    raw = draw(gen, k0, action, 5, seed=0, scale=1.0)
    double = draw(gen, k0, action, 5, seed=0, scale=2.0)
    torch.testing.assert_close(double, k0[:, None] + 2 * (raw - k0[:, None]))


def test_without_the_action_condition_the_action_is_ignored():
    gen = generator(action=False)
    assert gen.action_in is None
    k0, _, action = inputs()
    torch.testing.assert_close(draw(gen, k0, None, 6, seed=0), draw(gen, k0, action, 6, seed=0))


def test_with_the_action_condition_an_action_is_needed():
    gen = generator()
    k0, _, _ = inputs()
    with pytest.raises(ValueError, match="conditioned on an action"):
        gen.sample(k0, None, 3)


def test_the_cvae_refuses_guidance():
    cvae = build_motion_generator(MotionGeneratorConfig(num_keypoints=K, num_actions=A, hidden=8))
    k0, _, action = inputs()
    with pytest.raises(ValueError, match="diffusion"):
        cvae.sample(k0, action, 3, guidance=2.0)


def test_offset_scale_travels_with_the_weights():
    gen = generator()
    gen.offset_scale.fill_(0.25)
    fresh = generator()
    fresh.load_state_dict(gen.state_dict())
    assert float(fresh.offset_scale) == 0.25
    assert "alphas_cumprod" not in gen.state_dict()  # recomputed from the config


def test_gradients_reach_every_layer():
    gen = generator().train()
    k0, future, action = inputs()
    x0 = gen.to_clean(k0, future)
    t = torch.tensor([3, 30])
    pred = gen(gen.add_noise(x0, t, torch.randn_like(x0)), t, k0, action)
    (pred - x0).pow(2).mean().backward()
    unused = {name for name, p in gen.named_parameters() if p.grad is None}
    assert unused == set()
    assert all(float(p.grad.abs().sum()) > 0 for p in gen.parameters() if p is not gen.position)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"sample_steps": 0}, "sample_steps"),
        ({"sample_steps": 51, "timesteps": 50}, "sample_steps"),
        ({"action_dropout": 1.0}, "action_dropout"),
        ({"width": 10, "heads": 4}, "multiple of heads"),
        ({"guidance": -1.0}, "guidance"),
    ],
)
def test_config_checks_say_what_to_change(override, message):
    generator_config = {"kind": "diffusion", "diffusion": override}
    with pytest.raises(KeyvidError, match=message):
        from keyvid.config import from_dict

        from_dict(Stage2ModelConfig, {"num_keypoints": K, "generator": generator_config})


def test_v_parametrization_turns_the_network_output_into_x0():
    gen = generator(parametrization="v")
    k0, _, action = inputs()
    x, t = torch.randn(B, T, 2 * K), torch.tensor([0, 40])
    with torch.no_grad():
        torch.nn.init.zeros_(gen.frame_out.weight)
        torch.nn.init.zeros_(gen.frame_out.bias)  # v̂ = 0
        ab = gen.alphas_cumprod[t].view(-1, 1, 1)
        torch.testing.assert_close(gen(x, t, k0, action), ab.sqrt() * x)
    assert float(gen.alphas_cumprod[0]) > 0.99  # so at the lowest noise x̂0 ≈ x_t from step 0
