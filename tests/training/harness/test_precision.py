"""Precision and layout switches (optim.precision, optim.channels_last, optim.compile)."""

import logging

import pytest
import torch
from safetensors.torch import load_file

from keyvid.training.harness import precision as precision_module
from keyvid.training.harness.precision import Precision, compiled
from keyvid.training.stage1 import train_stage1
from tests.training.test_stage1 import TINY

STEPS = [*TINY, "optim.steps=2", "optim.threads=1", "loss.adversarial_weight=1.0"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from keyvid.data.prepare import prepare_synthetic

    root = tmp_path_factory.mktemp("precision") / "synth"
    return prepare_synthetic(root, train=9, test=0, frames=6, progress=False)


def _train(data, run, *extra):
    from keyvid.config import load_config
    from keyvid.training.config import Stage1Config

    config = load_config(Stage1Config, None, [*STEPS, f"data.root={data}", *extra])
    last = train_stage1(config, run, progress=False)
    return load_file(last / "model.safetensors"), [
        line for line in (run / "metrics.jsonl").read_text().splitlines()
    ]


def test_fp16_falls_back_to_bf16_on_a_cpu(caplog):
    with caplog.at_level(logging.WARNING, logger="keyvid"):
        chosen = Precision.resolve("fp16", torch.device("cpu"))
    assert chosen.name == "bf16" and chosen.scaler is None
    assert "fp16 needs a GPU; using bf16" in caplog.text
    assert Precision.resolve("fp32", torch.device("cpu")).dtype is None


def test_bf16_trains_with_finite_losses_close_to_fp32(data, tmp_path):
    fp32, _ = _train(data, tmp_path / "fp32")
    bf16, lines = _train(data, tmp_path / "bf16", "optim.precision=bf16")
    assert all("NaN" not in line and "Infinity" not in line for line in lines)
    assert fp32.keys() == bf16.keys()
    # Two Adam steps of lr 1e-3 from the same start move a weight by a few 1e-3 at
    # most: bf16's rounding changes some of the directions (so weights differ), not
    # the scale of the training.
    worst = max((fp32[k].float() - bf16[k].float()).abs().max().item() for k in fp32)
    assert 0 < worst < 1e-2


def test_channels_last_is_the_same_training(data, tmp_path):
    plain, _ = _train(data, tmp_path / "plain")
    nhwc, _ = _train(data, tmp_path / "nhwc", "optim.channels_last=true")
    for name in plain:
        if name != "detector.head.bias":  # softmax-invariant: its exact gradient is 0
            torch.testing.assert_close(nhwc[name], plain[name], rtol=1e-4, atol=1e-5, msg=name)


def test_fp16_loss_scaling_skips_overflowing_steps_and_lowers_the_scale():
    # The GPU path, run on the CPU: GradScaler works on any device.
    layer = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    prec = Precision("fp16", "cpu", torch.amp.GradScaler("cpu", init_scale=2.0**10))
    before = layer.weight.detach().clone()
    loss = layer(torch.ones(1, 3)).sum()
    prec.backward(loss)
    assert prec.step(opt, loss) and not torch.equal(layer.weight, before)
    scale = prec.scaler.get_scale()
    opt.zero_grad()
    loss = layer(torch.full((1, 3), float("inf"))).sum()
    prec.backward(loss)
    moved = layer.weight.detach().clone()
    assert not prec.step(opt, loss) and torch.equal(layer.weight, moved)
    assert prec.scaler.get_scale() < scale
    restored = Precision("fp16", "cpu", torch.amp.GradScaler("cpu"))
    restored.load_state_dict(prec.state_dict())
    assert restored.scaler.get_scale() == prec.scaler.get_scale()


def test_compile_that_cannot_start_trains_eagerly_and_says_so(monkeypatch, caplog):
    def broken(module, **kwargs):
        raise RuntimeError("no C++ compiler found")

    monkeypatch.setattr(precision_module.torch, "compile", broken)
    layer = torch.nn.Linear(2, 2)
    with caplog.at_level(logging.WARNING, logger="keyvid"):
        assert compiled(layer) is layer
    assert "torch.compile is unavailable (no C++ compiler found): training eagerly" in caplog.text


def test_channels_last_reaches_2d_and_3d_convolutions():
    from keyvid.training.harness.precision import to_channels_last

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv3d(4, 4, 3))
    params = list(net.parameters())
    to_channels_last(net)
    assert list(net.parameters()) == params  # same objects: an optimiser still holds them
    assert net[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert net[1].weight.is_contiguous(memory_format=torch.channels_last_3d)


def test_a_wrapped_model_is_called_not_tested_for_truth(data):
    # torch.compile's wrapper raises on len(): the step must only call it.
    from keyvid.config import load_config
    from keyvid.losses.reconstruction import ReconstructionLoss
    from keyvid.training.config import Stage1Config
    from keyvid.training.stage1 import build_state, train_step

    class Wrapped(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def __len__(self):
            raise TypeError("no len()")

        def forward(self, *args):
            return self.inner(*args)

    config = load_config(Stage1Config, None, STEPS)
    state = build_state(config, torch.device("cpu"))
    state.parallel["model"] = Wrapped(state.model)
    batch = {"source": torch.rand(4, 3, 32, 32), "target": torch.rand(4, 3, 32, 32)}
    logged, _ = train_step(state, ReconstructionLoss.from_config("pixel", None), batch, config)
    assert state.step == 1 and logged["loss/total"] > 0
