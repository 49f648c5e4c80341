"""Fixtures of the commands that run a trained pipeline (predict, animate, edit, ...)."""

from __future__ import annotations

import numpy as np
import pytest

from keyvid.data.format import PreparedDataset
from keyvid.io import write_image
from tests.pipeline.tiny import build_tiny_models


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return build_tiny_models(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def image(models, tmp_path_factory):
    """An unseen actor (first frame of a test video) as a PNG file."""
    frame = np.array(PreparedDataset(models.data, "test").frames(0)[0])
    return write_image(tmp_path_factory.mktemp("image") / "actor.png", frame)
