"""Data: the prepared format, datasets for both stages, augmentation, sources."""

from keyvid.data.actions import PENN_ACTIONS, resolve_action
from keyvid.data.augment import AugmentConfig
from keyvid.data.datasets import FramePairDataset, SequenceDataset
from keyvid.data.folder import prepare_folder
from keyvid.data.fomm import prepare_fomm
from keyvid.data.format import DatasetWriter, PreparedDataset
from keyvid.data.penn import prepare_penn
from keyvid.data.prepare import prepare_synthetic

__all__ = [
    "PENN_ACTIONS",
    "AugmentConfig",
    "DatasetWriter",
    "FramePairDataset",
    "PreparedDataset",
    "SequenceDataset",
    "prepare_folder",
    "prepare_fomm",
    "prepare_penn",
    "prepare_synthetic",
    "resolve_action",
]
