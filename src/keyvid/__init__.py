"""keyvid: one image + an action name -> a video, through keypoints learned without labels.

An implementation of Kim et al., "Unsupervised Keypoint Learning for Guiding
Class-Conditional Video Prediction", NeurIPS 2019.
"""

from keyvid._version import __version__
from keyvid.data import (
    PENN_ACTIONS,
    AugmentConfig,
    DatasetWriter,
    FramePairDataset,
    PreparedDataset,
    SequenceDataset,
    prepare_folder,
    prepare_fomm,
    prepare_penn,
    prepare_synthetic,
)
from keyvid.errors import KeyvidError
from keyvid.pipeline.generate import Generation, GenerationStream, Pipeline

# The training API, imported on first use (PEP 562): loading and running a pipeline
# never imports a trainer.
_TRAINING = (
    "ClassifierConfig",
    "Stage1Config",
    "Stage2Config",
    "load_config",
    "resume",
    "train_classifier",
    "train_stage1",
    "train_stage2",
)


def __getattr__(name: str):
    if name in _TRAINING:
        import keyvid.training

        return getattr(keyvid.training, name)
    raise AttributeError(f"module 'keyvid' has no attribute {name!r}")


__all__ = [
    *_TRAINING,
    "PENN_ACTIONS",
    "AugmentConfig",
    "DatasetWriter",
    "FramePairDataset",
    "Generation",
    "GenerationStream",
    "KeyvidError",
    "Pipeline",
    "PreparedDataset",
    "SequenceDataset",
    "__version__",
    "prepare_folder",
    "prepare_fomm",
    "prepare_penn",
    "prepare_synthetic",
]
