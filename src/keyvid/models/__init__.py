"""Networks. Each is a plain ``nn.Module`` built from a small config dataclass."""

from keyvid.models.detector import DetectorConfig, KeypointDetector
from keyvid.models.discriminator import DiscriminatorConfig, ImageDiscriminator
from keyvid.models.keypoints import gaussian_maps, soft_argmax
from keyvid.models.stage1 import KeypointTranslator, Stage1ModelConfig, Stage1Output
from keyvid.models.translator import Translator, TranslatorConfig, TranslatorOutput

__all__ = [
    "DetectorConfig",
    "DiscriminatorConfig",
    "ImageDiscriminator",
    "KeypointDetector",
    "KeypointTranslator",
    "Stage1ModelConfig",
    "Stage1Output",
    "Translator",
    "TranslatorConfig",
    "TranslatorOutput",
    "gaussian_maps",
    "soft_argmax",
]
