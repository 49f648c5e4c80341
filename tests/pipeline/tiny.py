"""A tiny trained pipeline for inference tests: stage 1, pseudo-labels, stage 2, export.

``build_tiny_models(folder)`` makes every piece in a few seconds on one CPU
thread; test modules call it from module-scoped fixtures (tests/pipeline and
tests/cli share it). The networks are barely trained: good for shapes, files
and plumbing, not for judging quality.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from keyvid.config import load_config
from keyvid.data.prepare import prepare_synthetic
from keyvid.models.detector import DetectorConfig, KeypointDetector
from keyvid.models.load import load_stage1
from keyvid.pipeline.loading import export_pipeline
from keyvid.pipeline.pseudolabels import extract_keypoints
from keyvid.training.config import Stage1Config, Stage2Config
from keyvid.training.stage1 import train_stage1
from keyvid.training.stage2 import train_stage2
from tests.training.test_stage1 import TINY as STAGE1_TINY

IMAGE_SIZE = 32  # STAGE1_TINY's model.image_size
NUM_KEYPOINTS = 4  # STAGE1_TINY's model.num_keypoints
LENGTH = 4  # STAGE2_TINY's model.generator.length

STAGE2_TINY = [
    "model.generator.hidden=8",
    "model.generator.latent=4",
    f"model.generator.length={LENGTH}",
    "model.discriminator.hidden=8",
    "optim.batch_size=4",
    "optim.lr=1e-2",
    "optim.device=cpu",
    "log.log_every=1",
    "log.eval_every=0",
    "log.sample_every=0",
    "log.tensorboard=false",
]


def tiny_detector(num_keypoints: int = NUM_KEYPOINTS, image_size: int = 16) -> KeypointDetector:
    """An untrained detector small enough to run over a whole dataset in a blink."""
    torch.manual_seed(0)
    config = DetectorConfig(
        num_keypoints=num_keypoints, image_size=image_size, channels=4, num_down=2
    )
    return KeypointDetector(config).eval()


def synthetic_data(folder: Path) -> Path:
    """9 train and 9 test synthetic videos of 6 frames (stage 2 needs length + 1 = 5)."""
    return prepare_synthetic(folder / "synth", train=9, test=9, frames=6, progress=False)


def stage1_config(data: Path, *extra: str) -> Stage1Config:
    return load_config(Stage1Config, None, [*STAGE1_TINY, f"data.root={data}", *extra])


def stage2_config(data: Path, *extra: str) -> Stage2Config:
    return load_config(Stage2Config, None, [*STAGE2_TINY, f"data.root={data}", *extra])


def extract_from_checkpoint(checkpoint: Path, data: Path, name: str = "stage1") -> None:
    model, ckpt = load_stage1(checkpoint)
    source = {"checkpoint": str(ckpt.path), "step": ckpt.step}
    extract_keypoints(model.detector, data, name=name, source=source, progress=False)


# A tiny diffusion motion generator (model.generator.kind: diffusion).
DIFFUSION_TINY = [
    "model.generator.kind=diffusion",
    "model.generator.diffusion.width=16",
    "model.generator.diffusion.depth=2",
    "model.generator.diffusion.heads=2",
    "model.generator.diffusion.timesteps=100",
    "model.generator.diffusion.sample_steps=10",
]


@dataclass(frozen=True)
class TinyModels:
    data: Path  # the prepared synthetic dataset, with "stage1" pseudo-labels
    stage1: Path  # a stage-1 checkpoint folder
    stage2: Path  # a stage-2 checkpoint folder whose config names ``stage1``
    pipeline: Path  # ``export_pipeline`` of the two


def build_tiny_models(folder: Path) -> TinyModels:
    data = synthetic_data(folder)
    # The translator of configs/synth.yaml: no mask, transported skips.
    config = stage1_config(
        data,
        "optim.steps=1",
        "model.mask=false",
        "model.translator.transport=true",
        "model.translator.skips=true",
    )
    stage1 = train_stage1(config, folder / "stage1", progress=False)
    extract_from_checkpoint(stage1, data)
    config = stage2_config(data, f"stage1={stage1}", "optim.steps=2")
    stage2 = train_stage2(config, folder / "stage2", progress=False)
    pipeline = export_pipeline(stage2, folder / "pipeline")
    return TinyModels(data=data, stage1=stage1, stage2=stage2, pipeline=pipeline)


def build_tiny_diffusion(models: TinyModels, folder: Path) -> Path:
    """A pipeline of ``models``' stage 1 with a 2-step diffusion motion generator."""
    config = stage2_config(models.data, f"stage1={models.stage1}", "optim.steps=2", *DIFFUSION_TINY)
    stage2 = train_stage2(config, folder / "stage2-diffusion", progress=False)
    return export_pipeline(stage2, folder / "pipeline-diffusion")
