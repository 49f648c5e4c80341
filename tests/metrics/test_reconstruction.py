"""Stage-1 reconstruction metrics: PSNR on known values, the metrics on a tiny model."""

from __future__ import annotations

import math

import pytest
import torch

from keyvid.data.format import PreparedDataset
from keyvid.metrics.reconstruction import (
    image_scores,
    masked_l1,
    psnr,
    reconstruction_metrics,
)
from keyvid.models.load import load_stage1
from tests.pipeline.tiny import build_tiny_models


def test_psnr_of_a_known_error():
    target = torch.zeros(2, 3, 8, 8)
    pred = target + 0.1  # MSE 0.01 -> 20 dB
    assert torch.allclose(psnr(pred, target), torch.tensor([20.0, 20.0]))


def test_identical_images_score_perfectly():
    x = torch.rand(2, 3, 16, 16)
    scores = image_scores(x, x)
    assert scores["l1"] == 0 and scores["ssim"] == pytest.approx(1.0) and scores["psnr"] >= 99


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_models(tmp_path_factory.mktemp("recon"))


def test_metrics_of_a_tiny_model_and_the_copy_baseline(tiny):
    model, _ = load_stage1(tiny.stage1)
    result = reconstruction_metrics(model, PreparedDataset(tiny.data, "test"), pairs=8)
    for entry in ("stage1", "copy_reference"):
        scores = result[entry]
        assert scores["pairs"] == 8
        assert 0 <= scores["l1"] <= 1 and -1 <= scores["ssim"] <= 1
        assert math.isfinite(scores["psnr"]) and scores["keypoint_distance"] >= 0
        assert 0 <= scores["implement_l1"] <= 1  # the tiny data is synthetic
    # Same pairs every call: the figures are deterministic.
    again = reconstruction_metrics(model, PreparedDataset(tiny.data, "test"), pairs=8)
    assert again == result


def test_implement_l1_counts_only_the_implement_pixels():
    target = torch.zeros(2, 3, 8, 8)
    pred = target.clone()
    pred[:, :, :4] = 0.5  # wrong in the top half only
    top, bottom = torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8)
    top[:, :, :4], bottom[:, :, 4:] = 1, 1
    assert masked_l1(pred, target, top) == pytest.approx(0.5)
    assert masked_l1(pred, target, bottom) == 0
