"""Fixtures of the tests that run a tiny trained pipeline (a module builds its own)."""

from __future__ import annotations

import numpy as np
import pytest

from keyvid.data.format import PreparedDataset
from keyvid.pipeline.generate import Pipeline
from tests.pipeline.tiny import build_tiny_models


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return build_tiny_models(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def pipe(models):
    return Pipeline.from_pretrained(models.pipeline)


@pytest.fixture(scope="module")
def image(models):
    """An actor the model never trained on: the first frame of a test video (64×64)."""
    return np.array(PreparedDataset(models.data, "test").frames(0)[0])
