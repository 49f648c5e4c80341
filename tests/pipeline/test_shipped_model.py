"""The `synth` model shipped inside the package loads by name and tracks the actors."""

import torch

from keyvid.data.format import PreparedDataset
from keyvid.data.prepare import prepare_synthetic
from keyvid.evaluation.keypoints import keypoint_regression_error
from keyvid.models.detector import KeypointDetector
from keyvid.pipeline.loading import load_stage1
from keyvid.training.checkpoint import PRETRAINED_DIR, resolve_checkpoint


def test_synth_is_addressable_by_name():
    assert resolve_checkpoint("synth") == PRETRAINED_DIR / "synth"
    model, ckpt = load_stage1("synth")
    assert ckpt.kind == "stage1" and ckpt.config["model"]["image_size"] == 64
    kp = model.detector(torch.rand(2, 3, 64, 64))
    assert kp.shape == (2, model.config.num_keypoints, 2) and kp.abs().max() <= 1


def test_synth_keypoints_predict_joints_on_unseen_videos(tmp_path):
    # Fresh videos from a seed it never trained on (0); a small version of the IMM protocol
    # (here 0.074 vs 0.164 untrained).
    root = prepare_synthetic(tmp_path / "s", train=45, test=18, frames=8, seed=11, progress=False)
    train, test = PreparedDataset(root, "train"), PreparedDataset(root, "test")
    model, _ = load_stage1("synth")
    learned = keypoint_regression_error(model.detector, train, test)["test_error"]
    torch.manual_seed(0)
    untrained = KeypointDetector(model.detector.config).eval()
    reference = keypoint_regression_error(untrained, train, test)["test_error"]
    # Full test split: 0.060 vs 0.131 (benchmarks/results/stage1_synth_keypoints.json).
    assert learned < 0.7 * reference, (learned, reference)
