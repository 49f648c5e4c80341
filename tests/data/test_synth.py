"""The procedural synthetic action dataset: shapes, determinism, ground truth, motion."""

from __future__ import annotations

import numpy as np
import pytest

from keyvid.coords import to_pixels
from keyvid.data.actions import PENN_ACTIONS
from keyvid.data.format import PreparedDataset
from keyvid.data.prepare import prepare_synthetic
from keyvid.data.skeleton import NUM_JOINTS, J
from keyvid.data.synth import (
    _render,
    dataset_implement_coverage,
    implement_coverage,
    render_video,
    synth_videos,
    video_seed,
)

ACTIONS = range(len(PENN_ACTIONS))
PAIRS = [(J["left_shoulder"], J["right_shoulder"]), (J["left_elbow"], J["right_elbow"]),
         (J["left_wrist"], J["right_wrist"]), (J["left_hip"], J["right_hip"]),
         (J["left_knee"], J["right_knee"]), (J["left_ankle"], J["right_ankle"])]  # fmt: skip


@pytest.mark.parametrize("size", [64, 128])
def test_shapes_and_dtypes(size):
    frames, joints = render_video(3, 7, size=size, frames=12)
    assert frames.shape == (12, size, size, 3) and frames.dtype == np.uint8
    assert joints.shape == (12, NUM_JOINTS, 2) and joints.dtype == np.float32


def test_same_seed_same_bytes():
    a = render_video(2, 123)
    b = render_video(2, 123)
    c = render_video(2, np.random.SeedSequence(123))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_different_seeds_differ():
    (fa, ja), (fb, jb) = render_video(0, 1), render_video(0, 2)
    assert not np.array_equal(fa, fb) and not np.allclose(ja, jb)


def test_synth_videos_balanced_and_deterministic():
    first = list(synth_videos("train", 18, seed=3, frames=8))
    again = list(synth_videos("train", 18, seed=3, frames=8))
    assert [v[1] for v in first] == [i % 9 for i in range(18)]
    assert len({v[0] for v in first}) == 18
    for x, y in zip(first, again, strict=True):
        assert x[0] == y[0] and np.array_equal(x[2], y[2]) and np.array_equal(x[3], y[3])


def test_splits_and_seeds_draw_different_videos():
    train = next(synth_videos("train", 1, frames=8))
    test = next(synth_videos("test", 1, frames=8))
    other = next(synth_videos("train", 1, seed=1, frames=8))
    assert train[1] == test[1] == 0 and train[0] != test[0]
    assert not np.array_equal(train[2], test[2]) and not np.array_equal(train[2], other[2])


@pytest.mark.parametrize("action", ACTIONS)
def test_joints_inside_image_and_on_the_actor(action):
    for seed in range(3):
        frames, joints, _ = _render(action, seed, 64, 40, background=False)
        assert np.abs(joints).max() <= 1.0
        # On a black background every joint must land on painted actor pixels.
        x, y = np.rint(to_pixels(joints, (64, 64))).astype(int).transpose(2, 0, 1)  # (2, T, 13)
        painted = frames[np.arange(40)[:, None], y, x].max(-1)  # (T, 13) brightest channel
        assert (painted > 8).mean() > 0.98, PENN_ACTIONS[action]


def test_moving_wrist_changes_the_pixels_around_it():
    frames, joints = render_video(5, 11)  # jumping jacks: the wrists sweep overhead
    px = to_pixels(joints[:, J["left_wrist"]], (64, 64))
    t0, t1 = np.argmin(px[:, 1]), np.argmax(px[:, 1])
    assert px[t1, 1] - px[t0, 1] > 10
    x, y = np.rint(px[t0]).astype(int)
    patch = (slice(max(y - 1, 0), y + 2), slice(max(x - 1, 0), x + 2))
    diff = np.abs(frames[t0][patch].astype(int) - frames[t1][patch].astype(int))
    assert diff.mean() > 10


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_moves(action):
    for seed in range(4):
        _, joints = render_video(action, seed)
        travel = (joints.max(0) - joints.min(0)).max(-1)  # (13,) range of each joint
        assert travel.max() > 0.15, PENN_ACTIONS[action]


def _features(joints: np.ndarray) -> np.ndarray:
    """Size/position/mirror-invariant summary of a joint track (T, 13, 2)."""
    hips = joints[:, [J["left_hip"], J["right_hip"]]].mean(1, keepdims=True)
    ankles = joints[:, [J["left_ankle"], J["right_ankle"]]].mean(1)
    height = np.linalg.norm(joints[:, J["head"]] - ankles, axis=-1).mean()
    rel = (joints - hips) / height
    per_joint = np.stack(
        [rel.std(0)[..., 0], rel.std(0)[..., 1], rel.mean(0)[..., 1], np.abs(rel.mean(0)[..., 0])],
        -1,
    )  # fmt: skip  (13, 4)
    pairs = [np.sort(per_joint[list(p)], axis=0).ravel() for p in PAIRS]
    return np.concatenate([per_joint[J["head"]], *pairs])


def test_actions_are_distinguishable():
    feats = np.array([[_features(render_video(a, 100 + s)[1]) for s in range(10)] for a in ACTIONS])
    centroids = feats[:, :6].mean(1)  # (9, F) from 6 videos per class
    held_out = feats[:, 6:].reshape(-1, feats.shape[-1])
    dist = np.linalg.norm(held_out[:, None] - centroids[None], axis=-1)
    accuracy = (dist.argmin(1) == np.repeat(np.arange(9), 4)).mean()
    assert accuracy >= 0.8


def test_bad_action_is_rejected():
    with pytest.raises(ValueError):
        render_video(9, 0)


WITH_IMPLEMENT = {"tennis_serve", "pull_ups", "clean_and_jerk", "tennis_forehand",
                  "golf_swing", "baseball_swing"}  # fmt: skip


@pytest.mark.parametrize("action", ACTIONS)
def test_implement_coverage_lies_in_the_hands(action):
    seed = video_seed(2, "test", action)
    coverage = implement_coverage(action, seed, size=64, frames=12)
    if PENN_ACTIONS[action] not in WITH_IMPLEMENT:
        assert coverage is None
        return
    assert coverage.shape == (12, 64, 64) and coverage.min() >= 0 and coverage.max() <= 1
    _, joints = render_video(action, seed, size=64, frames=12)  # the same video
    wrists = to_pixels(joints[:, [J["left_wrist"], J["right_wrist"]]], (64, 64))  # (T, 2, 2)
    for t in range(12):
        ys, xs = np.nonzero(coverage[t] > 0.5)
        assert len(xs) > 3, (PENN_ACTIONS[action], t)  # thin, but always in view
        covered = np.stack([xs, ys], -1)  # (N, 2) pixels of the implement
        nearest = np.linalg.norm(covered[None] - wrists[t][:, None], axis=-1).min()
        assert nearest < 4, (PENN_ACTIONS[action], t)  # held: a wrist touches it


def test_a_prepared_split_regenerates_its_implements(tmp_path):
    root = prepare_synthetic(tmp_path / "d", train=2, test=9, frames=6, seed=4, progress=False)
    test = PreparedDataset(root, "test")
    for i, video in enumerate(test.videos):
        expected = implement_coverage(video.action, video_seed(4, "test", i), frames=6)
        got = dataset_implement_coverage(test, i)
        assert (got is None) == (expected is None) and (
            got is None or np.array_equal(got, expected)
        )
