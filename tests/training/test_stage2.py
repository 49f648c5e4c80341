"""Stage 2 training: the motion generator learns pseudo-label keypoint sequences."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file

from keyvid.cli import main
from keyvid.data.actions import PENN_ACTIONS
from keyvid.data.datasets import SequenceDataset
from keyvid.errors import KeyvidError
from keyvid.metrics.motion import travel_scales
from keyvid.models.load import load_motion, load_stage1
from keyvid.pipeline.pseudolabels import extract_keypoints
from keyvid.training.stage2 import build_state, generator_losses, resolve_data_facts, train_stage2
from tests.pipeline.tiny import (
    DIFFUSION_TINY,
    LENGTH,
    STAGE2_TINY,
    stage2_config,
    synthetic_data,
    tiny_detector,
)

NO_AUGMENT = ["data.augment.flip=false", "data.augment.rotation_deg=0", "data.augment.scale=[1,1]"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Synthetic videos with two pseudo-label sets: "stage1" from a tiny untrained detector
    (K = 4, keypoints that hardly move) and "synth" from the shipped detector (K = 16, they
    follow the actors: motion worth learning)."""
    root = synthetic_data(tmp_path_factory.mktemp("stage2"))
    source = {"checkpoint": "tiny", "step": 0}
    extract_keypoints(tiny_detector(), root, name="stage1", source=source, progress=False)
    model, ckpt = load_stage1("synth")
    source = {"checkpoint": str(ckpt.path), "step": ckpt.step}
    extract_keypoints(model.detector, root, name="synth", source=source, progress=False)
    return root


def metrics(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def l1_curve(run) -> list[float]:
    return [r["loss/l1"] for r in metrics(run) if "loss/l1" in r]


def reconstruction_l1(checkpoint, data, keypoints: str) -> tuple[float, float]:
    """Posterior-mean reconstruction L1 over every training video's first sequence, and the
    L1 of standing still (k_t = k0), which is what the untrained generator predicts."""
    generator = load_motion(checkpoint)[0]
    dataset = SequenceDataset(
        data, length=LENGTH + 1, keypoints=keypoints, load_frames=False, random_start=False
    )
    items = [dataset[i] for i in range(len(dataset))]
    seq = torch.stack([it["keypoints"] for it in items])
    action = torch.stack([it["action"] for it in items])
    k0, future = seq[:, 0], seq[:, 1:]
    with torch.no_grad():
        cond = generator.condition(k0, action)
        mu, _ = generator.encode(future, cond)
        recon = generator.decode(mu, k0, cond, LENGTH)
    return float((recon - future).abs().mean()), float((k0[:, None] - future).abs().mean())


def test_training_learns_the_keypoint_motion(data, tmp_path):
    cfg = stage2_config(
        data,
        "data.keypoints=synth",
        "model.generator.hidden=16",
        "optim.batch_size=8",
        "optim.steps=100",
        *NO_AUGMENT,
    )
    last = train_stage2(cfg, tmp_path / "run", progress=False)
    assert last.name == "step_00000100"
    curve = l1_curve(tmp_path / "run")
    assert len(curve) == 100
    # Measured over seeds 0-4: last/first ratios 0.54-0.64.
    assert sum(curve[-10:]) / 10 < 0.8 * sum(curve[:10]) / 10
    # Not only the logged batches: the whole training split, deterministically.
    learned, standing_still = reconstruction_l1(last, data, "synth")
    assert learned < 0.8 * standing_still, (learned, standing_still)  # measured 0.48-0.59


def test_run_config_holds_the_facts_of_the_data(data, tmp_path):
    last = train_stage2(stage2_config(data, "optim.steps=1"), tmp_path / "run", progress=False)
    for path in (tmp_path / "run" / "config.yaml", last / "config.yaml"):
        model = yaml.safe_load(path.read_text())["model"]
        assert model["num_keypoints"] == 4  # the pseudo-labels' K, not the default 40
        assert model["actions"] == list(PENN_ACTIONS)
        assert model["generator"]["num_actions"] == len(PENN_ACTIONS)
    resolved = resolve_data_facts(stage2_config(data, "data.keypoints=synth"))
    assert resolved.model.num_keypoints == resolved.model.generator.num_keypoints == 16
    # The checkpoint's config alone builds the networks (shared values reach the sub-sections).
    generator, _, raw = load_motion(last)
    assert generator.config.num_keypoints == 4 and generator.config.num_actions == 9
    assert raw["model"]["actions"] == list(PENN_ACTIONS)


def test_resume_continues_bit_identically(data, tmp_path):
    cfg = stage2_config(data, "optim.steps=6", "log.checkpoint_every=3")  # augmented, with D_seq
    straight = train_stage2(cfg, tmp_path / "a", progress=False)
    train_stage2(cfg, tmp_path / "b", progress=False, max_steps=3)
    assert sorted(p.name for p in (tmp_path / "b" / "checkpoints").iterdir()) == ["step_00000003"]
    resumed = train_stage2(cfg, tmp_path / "b", resume=True, progress=False)
    assert straight.name == resumed.name == "step_00000006"
    a, b = load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys()
    assert {k.split(".", 1)[0] for k in a} == {"motion_generator", "sequence_discriminator"}
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert l1_curve(tmp_path / "a") == l1_curve(tmp_path / "b")
    assert len(l1_curve(tmp_path / "b")) == 6


def test_evaluation_and_samples_do_not_change_training(data, tmp_path):
    quiet = train_stage2(stage2_config(data, "optim.steps=3"), tmp_path / "a", progress=False)
    logged = train_stage2(
        stage2_config(data, "optim.steps=3", "log.eval_every=1", "log.sample_every=2"),
        tmp_path / "b",
        progress=False,
    )
    a, b = load_file(quiet / "model.safetensors"), load_file(logged / "model.safetensors")
    for key in a:
        assert torch.equal(a[key], b[key]), key
    evals = [r for r in metrics(tmp_path / "b") if "eval/l1" in r]
    assert [r["step"] for r in evals] == [1, 2, 3]
    assert all({"eval/l1_best", "eval/diversity"} <= r.keys() for r in evals)
    samples = sorted(p.name for p in (tmp_path / "b" / "samples").iterdir())
    assert samples == ["step_00000002.png", "step_00000003.png"]


def test_resume_with_another_model_shape_is_refused(data, tmp_path):
    train_stage2(stage2_config(data, "optim.steps=1"), tmp_path / "r", progress=False)
    with pytest.raises(KeyvidError, match="model config differs"):
        train_stage2(
            stage2_config(data, "optim.steps=2", "model.generator.hidden=16"),
            tmp_path / "r",
            resume=True,
        )


def test_missing_pseudo_labels_say_how_to_make_them(data, tmp_path):
    with pytest.raises(KeyvidError, match="extract-keypoints") as error:
        train_stage2(stage2_config(data, "data.keypoints=nope"), tmp_path / "r", progress=False)
    assert "'nope'" in str(error.value) and "available: stage1, synth" in str(error.value)
    assert not (tmp_path / "r").exists()


def test_cli_records_the_stage1_checkpoint(data, tmp_path, capsys):
    run = tmp_path / "run"
    stage1 = str(tmp_path / "some" / "stage1-run")
    args = ["train", "stage2", *STAGE2_TINY, f"data.root={data}", "optim.steps=2"]
    assert main([*args, "--stage1", stage1, "--run", str(run)]) == 0
    assert "checkpoint:" in capsys.readouterr().out
    assert yaml.safe_load((run / "config.yaml").read_text())["stage1"] == stage1
    assert (run / "checkpoints" / "step_00000002").is_dir()
    # Resuming reads the run's own config, with the resolved data facts in it.
    assert main(["train", "stage2", "--resume", str(run), "optim.steps=3"]) == 0
    assert (run / "checkpoints" / "step_00000003").is_dir()
    assert yaml.safe_load((run / "config.yaml").read_text())["stage1"] == stage1


def test_prior_adversarial_judges_a_prior_sample_too(tmp_path):
    # loss.prior_adversarial: D_seq also sees a sequence decoded from z ~ prior, and that
    # term trains the decoder (not the posterior encoder, which it never passes through).
    config = stage2_config(tmp_path, "model.num_keypoints=4", "loss.prior_adversarial=true")
    torch.manual_seed(0)
    state = build_state(config, torch.device("cpu"))
    sequences = torch.rand(4, LENGTH + 1, 4, 2) * 2 - 1  # (B, T+1, K, 2)
    losses, fakes = generator_losses(state, sequences, torch.tensor([0, 1, 2, 3]), config)
    assert len(fakes) == 2 and fakes[1].shape == (4, LENGTH, 4, 2)
    losses["adversarial_prior"].backward()
    gen = state.generator
    assert gen.to_offsets.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in gen.encoder.parameters())
    # Without the option only the reconstruction is judged.
    plain = stage2_config(tmp_path, "model.num_keypoints=4")
    losses, fakes = generator_losses(
        build_state(plain, torch.device("cpu")), sequences, torch.tensor([0, 1, 2, 3]), plain
    )
    assert len(fakes) == 1 and "adversarial_prior" not in losses


def test_travel_calibration_is_measured_at_each_checkpoint_and_changes_nothing_else(data, tmp_path):
    base = ["optim.steps=4", "log.checkpoint_every=2", "data.keypoints=synth"]
    plain = train_stage2(stage2_config(data, *base), tmp_path / "a", progress=False)
    calibrated = train_stage2(
        stage2_config(data, *base, "model.generator.calibrate_travel=true"),
        tmp_path / "b",
        progress=False,
    )
    a, b = load_file(plain / "model.safetensors"), load_file(calibrated / "model.safetensors")
    for key in a.keys() - {"motion_generator.travel_scale"}:
        assert torch.equal(a[key], b[key]), key
    assert torch.equal(a["motion_generator.travel_scale"], torch.ones(9))
    generator = load_motion(calibrated)[0]
    reference = SequenceDataset(
        data, length=LENGTH + 1, keypoints="synth", load_frames=False, random_start=False
    )
    torch.testing.assert_close(generator.travel_scale, travel_scales(generator, reference))
    assert not torch.equal(generator.travel_scale, torch.ones(9))
    earlier = load_file(tmp_path / "b" / "checkpoints" / "step_00000002" / "model.safetensors")
    assert not torch.equal(
        earlier["motion_generator.travel_scale"], b["motion_generator.travel_scale"]
    )


def test_diffusion_training_learns_to_denoise_the_keypoint_motion(data, tmp_path):
    cfg = stage2_config(
        data, *DIFFUSION_TINY, "data.keypoints=synth", "optim.batch_size=16", "optim.steps=150",
        *NO_AUGMENT,
    )  # fmt: skip
    last = train_stage2(cfg, tmp_path / "run", progress=False)
    rows = [r for r in metrics(tmp_path / "run") if "loss/position" in r]
    assert len(rows) == 150 and "loss/kl" not in rows[0]
    first = sum(r["loss/position"] for r in rows[:15]) / 15
    final = sum(r["loss/position"] for r in rows[-15:]) / 15
    assert final < 0.5 * first, (first, final)  # measured over seeds 0-2: 0.24-0.25
    weights = load_file(last / "model.safetensors")
    assert {k.split(".", 1)[0] for k in weights} == {"motion_generator"}  # no D_seq
    generator, _, _ = load_motion(last)
    # σ_data was measured on the pseudo-labels and travels with the weights.
    dataset = SequenceDataset(
        data, length=LENGTH + 1, keypoints="synth", load_frames=False, random_start=False
    )
    seq = torch.stack([dataset[i]["keypoints"] for i in range(len(dataset))])
    spread = float((seq[:, 1:] - seq[:, :1]).pow(2).mean().sqrt())
    assert float(generator.offset_scale) == pytest.approx(spread, rel=1e-5)


def test_diffusion_resume_continues_bit_identically(data, tmp_path):
    cfg = stage2_config(data, *DIFFUSION_TINY, "optim.steps=4", "log.checkpoint_every=2")
    straight = train_stage2(cfg, tmp_path / "a", progress=False)
    train_stage2(cfg, tmp_path / "b", progress=False, max_steps=2)
    resumed = train_stage2(cfg, tmp_path / "b", resume=True, progress=False)
    a, b = load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors")
    for key in a:
        assert torch.equal(a[key], b[key]), key
