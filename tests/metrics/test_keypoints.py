import numpy as np
import pytest
import torch

from keyvid.data.format import PreparedDataset
from keyvid.errors import KeyvidError
from keyvid.metrics.keypoints import frame_rows, keypoint_regression_error, regression_errors
from keyvid.models.detector import DetectorConfig, KeypointDetector


def test_a_linear_relation_is_recovered_exactly():
    rng = np.random.default_rng(0)
    kp = rng.uniform(-1, 1, size=(200, 6, 2))
    mix = rng.normal(size=(12, 26)) * 0.2
    joints = (kp.reshape(200, -1) @ mix + 0.1).reshape(200, 13, 2)
    out = regression_errors(kp[:150], joints[:150], kp[150:], joints[150:])
    assert out["test_error"] < 1e-3 and out["train_error"] < 1e-3
    assert len(out["per_joint_test_error"]) == 13


def test_unrelated_keypoints_give_a_large_error():
    rng = np.random.default_rng(1)
    joints = rng.uniform(-0.8, 0.8, size=(300, 13, 2))
    noise = rng.uniform(-1, 1, size=(300, 4, 2))
    out = regression_errors(noise[:200], joints[:200], noise[200:], joints[200:])
    # Predicting the mean joint position: about a fifth of the image size away.
    assert 0.15 < out["test_error"] < 0.35


def test_error_is_a_fraction_of_image_size():
    joints = np.zeros((10, 1, 2))
    kp = np.zeros((10, 1, 2))
    shifted = joints + np.array([0.2, 0.0])  # 0.2 normalised units = 10% of the image width
    out = regression_errors(kp, joints, kp, shifted)
    assert out["test_error"] == pytest.approx(0.1, abs=1e-6)


def test_detector_evaluation_on_a_prepared_dataset(dot_dataset):
    torch.manual_seed(0)
    detector = KeypointDetector(
        DetectorConfig(num_keypoints=3, image_size=16, channels=4, num_down=2)
    )
    train, test = PreparedDataset(dot_dataset, "train"), PreparedDataset(dot_dataset, "test")
    out = keypoint_regression_error(detector, train, test, max_train_frames=20)
    assert out["train_frames"] == 20 and out["test_frames"] == 8 + 9 + 10
    assert set(out["per_joint"]) == {"a", "b", "c"} and out["test_error"] > 0
    assert detector.training  # evaluation restores the mode it found


def test_frame_rows_subsample_evenly(dot_dataset):
    data = PreparedDataset(dot_dataset)
    assert len(frame_rows(data, None)) == 54
    rows = frame_rows(data, 5)
    assert rows[0] == 0 and rows[-1] == 53 and len(rows) == 5


def test_needs_joints(tmp_path):
    from keyvid.data.format import DatasetWriter

    with DatasetWriter(tmp_path / "d", actions=["a"], size=(16, 16)) as w:
        w.add("train", "v", np.zeros((2, 16, 16, 3), np.uint8), action=0)
        w.add("test", "v", np.zeros((2, 16, 16, 3), np.uint8), action=0)
    data = PreparedDataset(tmp_path / "d")
    detector = KeypointDetector(
        DetectorConfig(num_keypoints=2, image_size=16, channels=4, num_down=2)
    )
    with pytest.raises(KeyvidError, match="no ground-truth joints"):
        keypoint_regression_error(detector, data, PreparedDataset(tmp_path / "d", "test"))


def test_invisible_joints_are_left_out_of_fit_and_error():
    # Joints that are a known linear map of the keypoints; hiding a third of them as
    # NaN (Penn Action's invisible joints) must not change the fit or the error.
    rng = np.random.default_rng(0)
    kp = rng.uniform(-1, 1, size=(200, 4, 2))
    mix = rng.normal(size=(9, 6))
    joints = (np.concatenate([kp.reshape(200, 8), np.ones((200, 1))], 1) @ mix).reshape(200, 3, 2)
    hidden = joints.copy()
    hidden[rng.random((200, 3)) < 0.33] = np.nan
    hidden[:, 2] = np.nan  # a joint never seen
    result = regression_errors(kp[:150], hidden[:150], kp[150:], hidden[150:])
    assert result["test_error"] < 1e-3 and result["train_error"] < 1e-3
    assert result["per_joint_test_error"][0] < 1e-3 and np.isnan(result["per_joint_test_error"][2])
