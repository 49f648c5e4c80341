"""Stage-1 reconstruction loss: the three kinds, weight resolution and the fallback warning."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import pytest
import torch

from keyvid.errors import KeyvidError
from keyvid.losses import DEFAULT_FALLBACK, ENV_VAR, ReconstructionLoss, multiscale_l1_ssim, ssim
from keyvid.models.vgg import VGG19Features


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vgg") / "vgg19-dcbb9e9d.pth"
    torch.save(VGG19Features(seed=7).state_dict(), path)
    return path


@pytest.fixture(autouse=True)
def no_env_weights(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def images(seed: int = 0, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, size, size, generator=g), torch.rand(2, 3, size, size, generator=g)


@pytest.fixture(scope="module")
def losses(weights_file) -> dict[str, ReconstructionLoss]:
    """One loss of each kind, built once: a VGG-19 costs ~0.5 s to initialise."""
    return {
        "vgg": ReconstructionLoss("vgg", weights_file),
        "vgg_random": ReconstructionLoss("vgg_random"),
        "pixel": ReconstructionLoss("pixel"),
    }


@pytest.mark.parametrize("kind", ["vgg", "vgg_random", "pixel"])
def test_zero_for_identical_positive_otherwise_grad_to_prediction(kind, losses):
    loss = losses[kind]
    assert loss.kind_in_use == kind
    a, b = images()
    assert loss(a, a.clone()).item() == pytest.approx(0.0, abs=1e-6)
    pred = a.clone().requires_grad_(True)
    value = loss(pred, b)
    assert value.ndim == 0 and value.item() > 0
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in loss.parameters())


def test_vgg_uses_the_given_weights(weights_file, losses):
    loss = losses["vgg"]
    assert loss.weights_path == weights_file
    assert torch.equal(loss.vgg.features[0].weight, VGG19Features(seed=7).features[0].weight)
    assert str(weights_file) in loss.description


def test_layer_weights(losses, monkeypatch):
    loss = losses["vgg_random"]
    a, b = images(2)
    plain = loss(a, b)
    monkeypatch.setattr(loss, "layer_weights", (2.0,) * 5)
    assert loss(a, b).item() == pytest.approx(2 * plain.item(), rel=1e-5)
    with pytest.raises(KeyvidError, match="layer_weights"):
        ReconstructionLoss("vgg_random", layer_weights=[1.0])


def test_env_var_resolution(monkeypatch, weights_file, caplog):
    monkeypatch.setenv(ENV_VAR, str(weights_file))
    with caplog.at_level(logging.WARNING):
        loss = ReconstructionLoss("vgg")
    assert loss.kind_in_use == "vgg" and loss.weights_path == weights_file
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_explicit_path_wins_over_env(monkeypatch, weights_file, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "absent.pth"))
    assert ReconstructionLoss("vgg", str(weights_file)).weights_path == weights_file


def test_bad_env_path_is_an_error_not_a_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "absent.pth"))
    with pytest.raises(KeyvidError, match=ENV_VAR) as info:
        ReconstructionLoss("vgg")
    assert "absent.pth" in str(info.value)


def test_fallback_warns_loudly(caplog):
    with caplog.at_level(logging.WARNING, logger="keyvid.losses.reconstruction"):
        loss = ReconstructionLoss.from_config("vgg", "")
    assert loss.kind == "vgg" and loss.kind_in_use == DEFAULT_FALLBACK == "pixel"
    assert loss.vgg is None and "fallback" in loss.description
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert ENV_VAR in warnings[0] and "loss.vgg_weights" in warnings[0]
    assert "'pixel'" in warnings[0]


def test_unknown_kind():
    with pytest.raises(KeyvidError, match="unknown reconstruction loss kind 'l2'"):
        ReconstructionLoss("l2")


def test_shape_mismatch():
    with pytest.raises(ValueError, match="differ in shape"):
        ReconstructionLoss("pixel")(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 16, 16))


def test_ssim_identical_is_one_and_drops_with_noise():
    a, _ = images(3)
    assert torch.allclose(ssim(a, a), torch.ones(2), atol=1e-5)
    noisy = (a + 0.2 * torch.randn_like(a)).clamp(0, 1)
    assert (ssim(a, noisy) < 0.95).all()
    # Small images: the window shrinks to fit (8×8 is the 1/4 scale of a 32×32 image).
    small = a[..., :8, :8]
    assert torch.allclose(ssim(small, small), torch.ones(2), atol=1e-5)


def test_pixel_loss_decreases_toward_target():
    a, b = images(4)
    values = [multiscale_l1_ssim(a + t * (b - a), b).item() for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert all(x > y for x, y in itertools.pairwise(values))
    assert values[-1] == pytest.approx(0.0, abs=1e-6)


def test_pixel_loss_gradient_descent_moves_toward_target():
    a, b = images(5)
    loss = ReconstructionLoss("pixel")
    pred = a.clone().requires_grad_(True)
    first = loss(pred, b).item()
    for _ in range(20):  # signed gradient steps: the per-pixel gradient of a mean is tiny
        pred.grad = None
        loss(pred, b).backward()
        with torch.no_grad():
            pred -= 0.02 * pred.grad.sign()
    assert loss(pred, b).item() < 0.5 * first


def test_pixel_loss_is_computed_in_fp32_under_bf16_autocast():
    # In bf16, SSIM's variances went negative and the loss NaN (a 128×128 bf16 run
    # skipped 84 % of its first steps); the loss now leaves autocast.
    from keyvid.losses.reconstruction import ReconstructionLoss

    torch.manual_seed(0)
    pred, target = torch.rand(2, 3, 128, 128), torch.rand(2, 3, 128, 128)
    loss = ReconstructionLoss.from_config("pixel", None)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = loss(pred.bfloat16(), target)
    assert mixed.dtype == torch.float32 and torch.isfinite(mixed)
    torch.testing.assert_close(mixed, loss(pred.bfloat16().float(), target))
