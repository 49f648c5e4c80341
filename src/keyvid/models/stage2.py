"""Stage 2's motion generator by kind: the paper's cVAE or the diffusion model."""

from __future__ import annotations

from keyvid.models.diffusion import DiffusionMotionGenerator
from keyvid.models.motion import MotionGenerator, MotionGeneratorConfig, SegmentSampler

# model.generator.kind -> its network; both sample through SegmentSampler.sample.
GENERATORS: dict[str, type[SegmentSampler]] = {
    "cvae": MotionGenerator,
    "diffusion": DiffusionMotionGenerator,
}


def build_motion_generator(config: MotionGeneratorConfig) -> SegmentSampler:
    """The motion generator ``config.kind`` names, freshly initialised."""
    return GENERATORS[config.kind](config)
