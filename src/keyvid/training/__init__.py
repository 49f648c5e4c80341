"""Training: the three trainers and their configs (the harness they share is ``harness/``).

    from keyvid.training import Stage1Config, load_config, train_stage1, resume

    config = load_config(Stage1Config, "configs/synth.yaml", ["optim.steps=2000"])
    last = train_stage1(config, "runs/stage1-synth")      # the last checkpoint folder
    last = resume("runs/stage1-synth")                     # continue it, bit-identically on CPU

Every trainer runs unchanged under ``torchrun`` (``harness/parallel.py``).
"""

from keyvid.config import load_config
from keyvid.training.classifier import train_classifier
from keyvid.training.config import ClassifierConfig, Stage1Config, Stage2Config
from keyvid.training.resume import TRAINERS, resume
from keyvid.training.stage1 import train_stage1
from keyvid.training.stage2 import train_stage2

__all__ = [
    "TRAINERS",
    "ClassifierConfig",
    "Stage1Config",
    "Stage2Config",
    "load_config",
    "resume",
    "train_classifier",
    "train_stage1",
    "train_stage2",
]
