"""keyvid: one image + an action name -> a video, through keypoints learned without labels.

An implementation of Kim et al., "Unsupervised Keypoint Learning for Guiding
Class-Conditional Video Prediction", NeurIPS 2019.
"""

__version__ = "0.1.0"

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
from keyvid.pipeline.generate import Generation, Pipeline

__all__ = [
    "PENN_ACTIONS",
    "AugmentConfig",
    "DatasetWriter",
    "FramePairDataset",
    "Generation",
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
