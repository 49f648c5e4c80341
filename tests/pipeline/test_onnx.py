"""ONNX export: every file against PyTorch (onnxruntime on CPU), the example's whole
video against Pipeline's with the same noise, and for a diffusion motion generator the
denoiser against the module and the example's DDIM loop against ``sample``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="onnxruntime is in the dev extra")

from keyvid.cli import main
from keyvid.models.diffusion import sampling_timesteps
from keyvid.pipeline.generate import Pipeline, prepare_image
from keyvid.pipeline.loading import export_pipeline
from keyvid.pipeline.onnx import export_onnx
from keyvid.training.stage2 import train_stage2
from tests.pipeline.tiny import (
    DIFFUSION_TINY,
    IMAGE_SIZE,
    LENGTH,
    build_tiny_diffusion,
    build_tiny_models,
    stage2_config,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "onnx_generate.py"
# float32 through different kernels: keypoints and images agree to ~1e-6; 1e-4 leaves room.
TOLERANCE = 1e-4
MEASURED_TRAVEL = torch.linspace(0.5, 4.5, 9)  # as if measured: squats x4
# σ_data as if measured on keypoints that move: the tiny stage 1's hardly do (~1e-4), and
# offsets that small would pass any comparison to TOLERANCE.
OFFSET_SCALE = 0.1


def load_example():
    spec = importlib.util.spec_from_file_location("onnx_generate", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    models = build_tiny_models(folder)
    pipe = Pipeline.from_pretrained(models.pipeline)
    pipe.motion.travel_scale.copy_(MEASURED_TRAVEL)
    return models, pipe, export_onnx(pipe, folder / "onnx")


@pytest.fixture(scope="module")
def diffusion(exported, tmp_path_factory):
    """A tiny diffusion pipeline on ``exported``'s stage 1, and its ONNX folder."""
    models, _, _ = exported
    folder = tmp_path_factory.mktemp("onnx-diffusion")
    pipe = Pipeline.from_pretrained(build_tiny_diffusion(models, folder))
    pipe.motion.travel_scale.copy_(MEASURED_TRAVEL)
    pipe.motion.offset_scale.fill_(OFFSET_SCALE)
    return pipe, export_onnx(pipe, folder / "onnx")


def train_pipeline(models, folder: Path, *overrides: str) -> Pipeline:
    """One stage-2 step on ``models``' stage 1 with ``overrides``, as a Pipeline."""
    config = stage2_config(models.data, f"stage1={models.stage1}", "optim.steps=1", *overrides)
    run = train_stage2(config, folder / "s2", progress=False)
    return Pipeline.from_pretrained(export_pipeline(run, folder / "pipe"))


def test_each_file_matches_pytorch(exported):
    _, pipe, folder = exported
    example = load_example()
    manifest, sessions = example.load(folder)
    assert manifest["num_keypoints"] == pipe.motion.config.num_keypoints
    torch.manual_seed(0)
    image = torch.rand(3, 3, IMAGE_SIZE, IMAGE_SIZE)  # a batch of 3: the batch axis is free
    with torch.no_grad():
        kp = pipe.stage1.detector(image)
        (onnx_kp,) = sessions["detector"].run(None, {"image": image.numpy()})
        np.testing.assert_allclose(onnx_kp, kp.numpy(), atol=TOLERANCE)
        features = pipe.stage1.translator.encode(image)
        onnx_features = sessions["encoder"].run(None, {"image": image.numpy()})
        for ours, theirs in zip(onnx_features, features, strict=True):
            np.testing.assert_allclose(ours, theirs.numpy(), atol=TOLERANCE)
        target = kp + 0.1
        out = pipe.stage1.translator(image, kp, target, features=features)
        inputs = {"image": image.numpy(), "source_keypoints": kp.numpy(),
                  "target_keypoints": target.numpy()}  # fmt: skip
        inputs.update({n: f.numpy() for n, f in zip(manifest["features"], features, strict=True)})
        wanted = manifest["inputs"]["renderer"]
        frame, _ = sessions["renderer"].run(None, {k: v for k, v in inputs.items() if k in wanted})
        np.testing.assert_allclose(frame, out.image.numpy(), atol=TOLERANCE)


def test_the_example_makes_the_pipelines_video(exported, tmp_path):
    _, pipe, folder = exported
    example = load_example()
    manifest, sessions = example.load(folder)
    image = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    ours = pipe(image, "squats", frames=7, seed=3)  # 7 frames: two segments of length 4
    generator = torch.Generator().manual_seed(3)  # the noise Pipeline drew, in its order
    latent = manifest["latent"]
    video, keypoints = example.generate(
        manifest, sessions, prepare_image(image, IMAGE_SIZE).numpy(),
        pipe.actions.index("squats"), 7,
        lambda: torch.randn(1, latent, generator=generator).numpy(),
    )  # fmt: skip
    np.testing.assert_allclose(keypoints, ours.keypoints[0], atol=TOLERANCE)
    raw = pipe(image, "squats", frames=7, seed=3, motion_scale=1.0).keypoints[0]
    assert np.abs(keypoints - raw).max() > 10 * TOLERANCE  # the travel factor was applied
    assert video.shape == ours.frames[0].shape
    assert np.abs(video.astype(int) - ours.frames[0].astype(int)).max() <= 1  # uint8 rounding


def test_a_model_without_the_action_condition(exported, tmp_path):
    pipe = train_pipeline(exported[0], tmp_path, "model.generator.action=false")
    folder = export_onnx(pipe, tmp_path / "onnx")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["actions"] is None and manifest["inputs"]["motion_start"] == ["k0", "eps"]
    example = load_example()
    manifest, sessions = example.load(folder)
    image = np.zeros((1, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    video, _ = example.generate(manifest, sessions, image, 0, 3, lambda: np.zeros((1, 4)))
    assert video.shape == (4, IMAGE_SIZE, IMAGE_SIZE, 3)


def test_export_command(exported, tmp_path, capsys):
    models, _, _ = exported
    out = tmp_path / "onnx"
    assert main(["export", str(models.pipeline), str(out), "--format", "onnx"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "detector.onnx", "encoder.onnx", "manifest.json", "motion_start.onnx",
        "motion_step.onnx", "renderer.onnx",
    ]  # fmt: skip
    args = ["export", str(models.stage1), str(tmp_path / "s1"), "--format", "onnx"]
    assert main(args) == 2
    assert "ONNX export needs a stage-2 model" in capsys.readouterr().err


def test_the_denoiser_matches_the_module(diffusion):
    pipe, folder = diffusion
    motion, d = pipe.motion, pipe.motion.config.diffusion
    manifest, sessions = load_example().load(folder)
    assert manifest["generator"] == "diffusion"
    assert set(manifest["files"]) == {"detector", "encoder", "renderer", "denoiser"}
    assert manifest["inputs"]["denoiser"] == ["x_t", "t", "k0", "action"]
    assert manifest["null_action"] == len(pipe.actions) and manifest["guidance"] == d.guidance
    schedule = sampling_timesteps(d.timesteps, d.sample_steps)
    assert manifest["sampling_timesteps"] == schedule and manifest["length"] == LENGTH
    assert manifest["alphas_cumprod"] == motion.alphas_cumprod[schedule].tolist()
    assert manifest["offset_scale"] == pytest.approx(OFFSET_SCALE)
    torch.manual_seed(0)
    b, k = 5, motion.config.num_keypoints  # a batch of 5: the batch axis is free
    inputs = {
        "x_t": torch.randn(b, LENGTH, 2 * k),  # (B, T, 2K)
        "t": torch.randint(0, d.timesteps, (b,)),  # (B,)
        "k0": torch.rand(b, k, 2) * 2 - 1,  # (B, K, 2)
        "action": torch.tensor([0, 3, motion.null_action, 8, motion.null_action]),  # (B,)
    }
    with torch.no_grad():
        ours = motion(**inputs)  # (B, T, 2K)
    (theirs,) = sessions["denoiser"].run(None, {n: v.numpy() for n, v in inputs.items()})
    np.testing.assert_allclose(theirs, ours.numpy(), atol=1e-5)


def sample_both(pipe, folder, action, guidance, scale=None):
    """(frames, K, 2) keypoints from the example's numpy loop and from ``motion.sample``
    (with ``scale``), with the same x_T: two segments, the second one cut short."""
    example = load_example()
    manifest, sessions = example.load(folder)
    frames = 2 * LENGTH - 1
    k0 = torch.rand(1, pipe.motion.config.num_keypoints, 2) * 2 - 1  # (1, K, 2)
    index = None if action is None else torch.tensor([action])  # (1,)
    generator = torch.Generator().manual_seed(3)
    ours = pipe.motion.sample(k0, index, frames, generator, scale=scale, guidance=guidance)
    generator = torch.Generator().manual_seed(3)  # the x_T draws of ``sample``, in its order
    shape = example.noise_shape(manifest)
    noise = lambda: torch.randn(shape, generator=generator).numpy()  # noqa: E731
    theirs = example.sample_keypoints(
        manifest, sessions, k0.numpy(), 0 if action is None else action, frames, noise, guidance
    )  # (frames, K, 2)
    return theirs, ours[0].numpy()


@pytest.mark.parametrize("guidance", [None, 1.0, 0.0])  # None: the manifest's 2.5
def test_the_example_samples_as_the_diffusion_model(diffusion, guidance):
    pipe, folder = diffusion
    torch.manual_seed(1)
    theirs, ours = sample_both(pipe, folder, pipe.actions.index("squats"), guidance)
    assert theirs.shape == (2 * LENGTH - 1, pipe.motion.config.num_keypoints, 2)
    np.testing.assert_allclose(theirs, ours, atol=TOLERANCE)


def test_guidance_and_travel_change_the_diffusion_sample(diffusion):
    pipe, folder = diffusion
    squats = pipe.actions.index("squats")
    samples = {}
    for name, guidance, scale in [("guided", None, None), ("plain", 1.0, None),
                                  ("raw", None, 1.0)]:  # fmt: skip
        torch.manual_seed(1)
        samples[name] = sample_both(pipe, folder, squats, guidance, scale)
    guided, plain, raw = samples["guided"][0], samples["plain"][0], samples["raw"][1]
    assert np.abs(guided - plain).max() > 10 * TOLERANCE  # the unconditioned call counts
    assert np.abs(guided - raw).max() > 10 * TOLERANCE  # the example applied the factor


def test_a_diffusion_model_without_the_action_condition(exported, tmp_path):
    pipe = train_pipeline(exported[0], tmp_path, *DIFFUSION_TINY, "model.generator.action=false")
    pipe.motion.offset_scale.fill_(OFFSET_SCALE)
    folder = export_onnx(pipe, tmp_path / "onnx")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["actions"] is None and manifest["inputs"]["denoiser"] == ["x_t", "t", "k0"]
    theirs, ours = sample_both(pipe, folder, None, None)
    np.testing.assert_allclose(theirs, ours, atol=TOLERANCE)
