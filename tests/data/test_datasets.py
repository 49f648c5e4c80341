import numpy as np
import torch
from torch.utils.data import DataLoader

from keyvid.data.augment import AugmentConfig
from keyvid.data.datasets import (
    FramePairDataset,
    SequenceDataset,
    interpolate_rows,
    sequence_indices,
)
from keyvid.data.format import PreparedDataset


def test_pairs_shapes_dtypes_and_same_video(dot_dataset):
    ds = FramePairDataset(dot_dataset, augment=AugmentConfig())
    assert len(ds) == 8 + 9 + 10 + 8 + 9 + 10
    sample = ds[12]
    assert sample["source"].shape == (3, 16, 16) and sample["source"].dtype == torch.float32
    assert sample["target"].shape == (3, 16, 16)
    assert sample["source"].min() >= 0 and sample["source"].max() <= 1
    assert sample["source_joints"].shape == (3, 2)
    assert sample["action"].dtype == torch.int64 and sample["action"].item() == 1  # video 1
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["source"].shape == (4, 3, 16, 16) and batch["action"].shape == (4,)


def test_pair_target_differs_from_source_frame(dot_dataset):
    ds = FramePairDataset(dot_dataset)  # no augmentation: frames are the stored ones
    data = PreparedDataset(dot_dataset)
    for i in range(len(ds)):
        s = ds[i]
        assert not torch.equal(s["source_joints"], s["target_joints"])
    first = ds[0]["source"].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(first, data.frames(0)[0] / 255.0, atol=1e-6)


def test_pairs_are_deterministic_per_seed_and_epoch(dot_dataset):
    a = FramePairDataset(dot_dataset, augment=AugmentConfig(), seed=3)
    b = FramePairDataset(dot_dataset, augment=AugmentConfig(), seed=3)
    torch.testing.assert_close(a[5]["target"], b[5]["target"])
    b.set_epoch(1)
    different = [not torch.equal(a[i]["target"], b[i]["target"]) for i in range(10)]
    assert any(different)
    # Same samples with several workers as with none.
    loaded = next(iter(DataLoader(a, batch_size=6, num_workers=2)))
    torch.testing.assert_close(loaded["target"][5], a[5]["target"])


def test_resize_keeps_joints_in_normalised_units(dot_dataset):
    ds = FramePairDataset(dot_dataset, size=(32, 32))
    s = ds[0]
    assert s["source"].shape == (3, 32, 32)
    torch.testing.assert_close(
        s["source_joints"], torch.tensor(PreparedDataset(dot_dataset).joints(0)[0])
    )


def test_sequence_indices():
    rng = np.random.default_rng(0)
    idx = sequence_indices(100, 33, rng)  # stride 3
    assert len(idx) == 33 and np.all(np.diff(idx) == 3) and idx[-1] <= 99
    assert np.all(sequence_indices(100, 33, None) == np.arange(0, 99, 3))
    short = sequence_indices(10, 33, rng)  # stretched, interpolated
    assert short[0] == 0 and short[-1] == 9 and len(short) == 33


def test_interpolate_rows():
    a = np.array([[0.0], [10.0], [20.0]], dtype=np.float32)
    np.testing.assert_allclose(
        interpolate_rows(a, np.array([0.0, 0.5, 1.25, 2.0])), [[0], [5], [12.5], [20]]
    )


def test_sequences_with_and_without_frames(dot_dataset):
    ds = SequenceDataset(dot_dataset, length=5, augment=AugmentConfig())
    s = ds[2]
    assert s["frames"].shape == (5, 3, 16, 16) and s["joints"].shape == (5, 3, 2)
    assert s["action"].item() == 2
    light = SequenceDataset(dot_dataset, length=12, load_frames=False)  # longer than the videos
    s = light[0]
    assert "frames" not in s and s["joints"].shape == (12, 3, 2)
    batch = next(iter(DataLoader(light, batch_size=3)))
    assert batch["joints"].shape == (3, 12, 3, 2)


def test_sequences_read_pseudo_labels(dot_dataset):
    data = PreparedDataset(dot_dataset)
    n = sum(v.num_frames for v in data.videos)
    kp = np.random.default_rng(0).uniform(-1, 1, size=(n, 4, 2)).astype(np.float32)
    (dot_dataset / "train" / "keypoints").mkdir()
    np.save(dot_dataset / "train" / "keypoints" / "stage1.npy", kp)
    assert data.keypoint_sets() == ["stage1"]
    ds = SequenceDataset(
        dot_dataset, length=4, keypoints="stage1", load_frames=False, random_start=False
    )
    s = ds[1]  # video 1: rows 8..16, stride 2 -> rows 8, 10, 12, 14
    np.testing.assert_allclose(s["keypoints"].numpy(), kp[[8, 10, 12, 14]])


def test_missing_pseudo_labels_is_a_clear_error(dot_dataset):
    import pytest

    from keyvid.errors import KeyvidError

    with pytest.raises(KeyvidError, match=r"no pseudo-labels named 'x'.*extract-keypoints"):
        SequenceDataset(dot_dataset, keypoints="x")
