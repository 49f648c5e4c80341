"""Data: the prepared format, datasets for both stages, augmentation, sources."""

from keyvid.data.actions import PENN_ACTIONS, resolve_action
from keyvid.data.augment import AugmentConfig
from keyvid.data.datasets import FramePairDataset, SequenceDataset
from keyvid.data.format import DatasetWriter, PreparedDataset

__all__ = [
    "PENN_ACTIONS",
    "AugmentConfig",
    "DatasetWriter",
    "FramePairDataset",
    "PreparedDataset",
    "SequenceDataset",
    "resolve_action",
]
