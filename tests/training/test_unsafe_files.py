"""Files that would run code when unpickled are refused, not executed: a user's weights
file (VGG-19 / I3D) and a checkpoint's training state."""

from __future__ import annotations

import os

import pytest
import torch

from keyvid.errors import KeyvidError
from keyvid.io.weights import read_state_dict_file
from keyvid.training.classifier import train_classifier
from keyvid.training.config import ClassifierConfig
from tests.training.test_classifier import TINY, write_motion_dataset


class Payload:
    """Unpickling this calls os.system: what a malicious .pt file does."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_weights_file_with_a_payload_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"conv.weight": torch.zeros(1), "x": Payload(marker)}, tmp_path / "evil.pt")
    with pytest.raises(KeyvidError, match=r"evil\.pt"):
        read_state_dict_file(tmp_path / "evil.pt", what="weights", hint="give real weights")
    assert not marker.exists()


def test_a_training_state_with_a_payload_is_refused_on_resume(tmp_path):
    from keyvid.config import load_config

    data = write_motion_dataset(tmp_path / "data", train=1, test=1)
    config = load_config(ClassifierConfig, None, [*TINY, f"data.root={data}", "optim.steps=1"])
    ckpt = train_classifier(config, tmp_path / "run", progress=False)
    marker = tmp_path / "pwned"
    torch.save({"opt_g": Payload(marker)}, ckpt / "training_state.pt")
    config = load_config(ClassifierConfig, None, [*TINY, f"data.root={data}", "optim.steps=2"])
    with pytest.raises(KeyvidError, match="not a readable keyvid training state"):
        train_classifier(config, tmp_path / "run", resume=True, progress=False)
    assert not marker.exists()
