import json

import numpy as np
import pytest

from keyvid.data.format import DatasetWriter, PreparedDataset, read_metadata
from keyvid.errors import KeyvidError


def test_round_trip(tmp_path, make_dot_dataset):
    root = make_dot_dataset(tmp_path / "d")
    train = PreparedDataset(root, "train")
    assert len(train) == 6
    assert train.size == (16, 16)
    assert [v.num_frames for v in train.videos] == [8, 9, 10, 8, 9, 10]
    frames = train.frames(2)
    assert frames.shape == (10, 16, 16, 3) and frames.dtype == np.uint8
    joints = train.joints(2)
    assert joints.shape == (10, 3, 2) and joints.dtype == np.float32
    # Offsets chain the videos back to back.
    assert [v.offset for v in train.videos] == [0, 8, 17, 27, 35, 44]
    assert PreparedDataset(root, "test").videos[1].id == "test1"


def test_written_values_read_back_exactly(tmp_path):
    rng = np.random.default_rng(1)
    video = rng.integers(0, 256, size=(5, 4, 6, 3), dtype=np.uint8)
    with DatasetWriter(tmp_path / "d", actions=["a", "b"], size=(4, 6)) as w:
        w.add("train", "x", video, action=1)
    data = PreparedDataset(tmp_path / "d", "train")
    np.testing.assert_array_equal(data.frames(0), video)
    assert not data.has_joints
    with pytest.raises(KeyvidError, match="no ground-truth joints"):
        data.joints(0)


def test_refuses_non_empty_output_unless_overwrite(tmp_path, make_dot_dataset):
    root = make_dot_dataset(tmp_path / "d")
    with pytest.raises(KeyvidError, match=r"not empty.*--overwrite"):
        make_dot_dataset(root)
    make_dot_dataset(root.parent / "d2")
    (root / "extra").write_text("x")
    with DatasetWriter(root, actions=["a"], size=(2, 2), overwrite=True) as w:
        w.add("train", "v", np.zeros((2, 2, 2, 3), np.uint8), action=0)
    assert not (root / "extra").exists()
    assert len(PreparedDataset(root, "train")) == 1


def test_failure_leaves_no_dataset_behind(tmp_path):
    root = tmp_path / "d"
    with pytest.raises(RuntimeError), DatasetWriter(root, actions=["a"], size=(2, 2)) as w:
        w.add("train", "v", np.zeros((2, 2, 2, 3), np.uint8), action=0)
        raise RuntimeError("crash mid-way")
    assert not root.exists()
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_previous_dataset_on_overwrite(tmp_path, make_dot_dataset):
    root = make_dot_dataset(tmp_path / "d")
    with (
        pytest.raises(RuntimeError),
        DatasetWriter(root, actions=["a"], size=(2, 2), overwrite=True),
    ):
        raise RuntimeError("crash")
    assert len(PreparedDataset(root, "train")) == 6


def test_unknown_split_and_bad_video(tmp_path):
    with DatasetWriter(tmp_path / "d", actions=["a"], size=(2, 2)) as w:
        with pytest.raises(KeyvidError, match="unknown split 'val'"):
            w.add("val", "v", np.zeros((2, 2, 2, 3), np.uint8), action=0)
        with pytest.raises(KeyvidError, match="no frames"):
            w.add("train", "v", np.zeros((0, 2, 2, 3), np.uint8), action=0)
        w.add("train", "v", np.zeros((2, 2, 2, 3), np.uint8), action=0)
    with pytest.raises(KeyvidError, match="no 'test' split"):
        PreparedDataset(tmp_path / "d", "test")


def test_not_a_dataset_and_corrupt_dataset(tmp_path, make_dot_dataset):
    with pytest.raises(KeyvidError, match="does not exist"):
        read_metadata(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(KeyvidError, match="not a prepared keyvid dataset"):
        read_metadata(tmp_path / "empty")
    root = make_dot_dataset(tmp_path / "d")
    frames = root / "train" / "frames.u8"
    frames.write_bytes(frames.read_bytes()[:-10])  # truncated
    with pytest.raises(KeyvidError, match="incomplete or corrupt"):
        PreparedDataset(root, "train")
    meta = json.loads((root / "dataset.json").read_text())
    meta["version"] = 99
    (root / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(KeyvidError, match="format version"):
        PreparedDataset(root, "test")
