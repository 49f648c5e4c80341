"""ONNX export: every file against PyTorch (onnxruntime on CPU), and the example's whole
video against Pipeline's with the same noise."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="onnxruntime is in the dev extra")

from keyvid.cli import main
from keyvid.pipeline.generate import Pipeline, prepare_image
from keyvid.pipeline.onnx import export_onnx
from tests.pipeline.tiny import IMAGE_SIZE, build_tiny_models, stage2_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "onnx_generate.py"
# float32 through different kernels: keypoints and images agree to ~1e-6; 1e-4 leaves room.
TOLERANCE = 1e-4


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
    pipe.motion.travel_scale.copy_(torch.linspace(0.5, 4.5, 9))  # as if measured: squats x4
    return models, pipe, export_onnx(pipe, folder / "onnx")


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
    from keyvid.pipeline.loading import export_pipeline
    from keyvid.training.stage2 import train_stage2

    models, _, _ = exported
    config = stage2_config(models.data, f"stage1={models.stage1}", "optim.steps=1",
                           "model.generator.action=false")  # fmt: skip
    run = train_stage2(config, tmp_path / "s2", progress=False)
    pipe = Pipeline.from_pretrained(export_pipeline(run, tmp_path / "pipe"))
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
