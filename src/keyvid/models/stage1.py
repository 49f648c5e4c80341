"""Stage 1 as one module: the detector Q and the translator T trained together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import nn

from keyvid.config import propagate_shared, shared
from keyvid.errors import KeyvidError
from keyvid.models.detector import DetectorConfig, KeypointDetector
from keyvid.models.discriminator import DiscriminatorConfig
from keyvid.models.translator import (
    Translator,
    TranslatorConfig,
    TranslatorOutput,
    switches_beside_warp,
    switches_needing_analogy,
)
from keyvid.models.warp import WarpTranslator

# model.translator.kind -> its network (both take T(v, k, k') and return TranslatorOutput).
TRANSLATORS: dict[str, type[nn.Module]] = {"analogy": Translator, "warp": WarpTranslator}


@dataclass
class Stage1ModelConfig:
    """The networks of stage 1; values that must agree are set here once."""

    num_keypoints: int = shared(40, into=("detector", "translator"))  # K (paper Sec. 3.2)
    image_size: int = shared(128, into=("detector", "translator"))  # paper Sec. 3.2
    analogy: bool = shared(True, into=("translator",))  # False: Jakab et al. 2018 baseline
    mask: bool = shared(True, into=("translator",))  # False: no background mask
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    translator: TranslatorConfig = field(default_factory=TranslatorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    def __post_init__(self) -> None:
        propagate_shared(self)
        if conflicts := switches_needing_analogy(self.translator):
            switch = conflicts[0]
            raise KeyvidError(
                f"model.translator.{switch} needs model.analogy=true: it uses the source "
                f"keypoints, which the no-analogy ablation hides from T; set "
                f"model.translator.{switch}=false"
            )
        size, reads = self.image_size, self.detector.input_size
        if reads and (reads > size or size % reads):
            raise KeyvidError(
                f"model.detector.input_size {reads} must divide model.image_size {size} "
                f"(e.g. {size // 2}); 0 reads the image at its own size"
            )
        if self.translator.motion_order not in (0, 1):
            raise KeyvidError(
                f"model.translator.motion_order is {self.translator.motion_order}; use 0 "
                "(translations) or 1 (local rotations and scales)"
            )
        if self.translator.kind == "warp" and not self.analogy:
            raise KeyvidError(
                "model.translator.kind=warp needs model.analogy=true: it moves the reference "
                "from the source keypoints k to the target keypoints k'"
            )
        if extra := switches_beside_warp(self.translator):
            raise KeyvidError(
                f"model.translator.{extra[0]} belongs to the analogy translator; with "
                f"model.translator.kind=warp set it to false"
            )


class Stage1Output(NamedTuple):
    source_kp: torch.Tensor  # (B, K, 2)
    target_kp: torch.Tensor  # (B, K, 2)
    translation: TranslatorOutput


class KeypointTranslator(nn.Module):
    """Q and T: detect keypoints on both frames, translate the source towards the target."""

    def __init__(self, config: Stage1ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.detector = KeypointDetector(config.detector)
        self.translator = TRANSLATORS[config.translator.kind](config.translator)
        self.detector_frozen = False

    def freeze_detector(self) -> KeypointTranslator:
        """Fix Q: no gradients, and batch-norm statistics frozen (eval mode) from now on."""
        self.detector.requires_grad_(False)
        self.detector_frozen = True
        self.detector.eval()
        return self

    def train(self, mode: bool = True) -> KeypointTranslator:
        super().train(mode)
        if self.detector_frozen:
            self.detector.eval()  # its keypoints must not drift with the batch statistics
        return self

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> Stage1Output:
        """(B, 3, H, W) source and target frames in [0, 1] -> keypoints and translation."""
        keypoints = self.detector(torch.cat([source, target]))  # one pass for both: (2B, K, 2)
        source_kp, target_kp = keypoints.chunk(2)
        return Stage1Output(source_kp, target_kp, self.translator(source, source_kp, target_kp))
