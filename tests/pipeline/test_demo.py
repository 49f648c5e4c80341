"""`keyvid demo`'s real-against-generated comparison (``compare_actions``) on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from keyvid.data.actions import PENN_ACTIONS
from keyvid.data.synth import render_video
from keyvid.errors import KeyvidError
from keyvid.io import read_image, read_video
from keyvid.pipeline.demo import (
    PAIR_GAP,
    actor_seed,
    compare_actions,
    compare_videos,
    demo_actors,
    synthetic_actions,
)
from keyvid.pipeline.generate import Pipeline
from keyvid.viz import label_image
from tests.pipeline.tiny import IMAGE_SIZE, build_tiny_models

S = IMAGE_SIZE
PAD = 2  # keyvid.viz.image_grid's default padding around every cell
FRAMES = 4  # storyboard columns: frames 0 and 4
SEED = 3


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    return Pipeline.from_pretrained(build_tiny_models(tmp_path_factory.mktemp("tiny")).pipeline)


@pytest.fixture(scope="module")
def videos(pipe):
    return compare_videos(pipe, 1, frames=FRAMES, seed=SEED)


def test_the_real_video_is_synthetic_and_its_first_frame_is_the_input(pipe, videos):
    assert [name for name, _, _ in videos] == list(PENN_ACTIONS)
    for action, (name, real, generated) in enumerate(videos):
        expected, _ = render_video(action, actor_seed(SEED, 1), size=S, frames=FRAMES + 1)
        np.testing.assert_array_equal(real, expected)
        assert generated.shape == real.shape == (FRAMES + 1, S, S, 3)
        np.testing.assert_array_equal(generated[0], real[0])  # the model's input
        again = pipe(real[0], name, frames=FRAMES, seed=SEED + action).frames[0]
        np.testing.assert_array_equal(generated, again)


def test_every_action_shows_the_demo_s_actor_in_the_demo_s_scene(videos):
    # Same body, clothes and background: most pixels of each action's first frame are
    # those of the demo image of this actor (measured 0.63-0.88); another actor's, none.
    mine, other = demo_actors(2, seed=SEED, size=S)[1], demo_actors(1, seed=SEED, size=S)[0]
    for _, real, _ in videos:
        assert (real[0] == mine).all(-1).mean() > 0.4
        assert (real[0] == other).all(-1).mean() < 0.1


def test_files_hold_real_above_generated_for_every_action(pipe, videos, tmp_path):
    paths = compare_actions(
        pipe, tmp_path, actors=2, frames=FRAMES, seed=SEED, scale=1, progress=False
    )
    names = ["actor0_compare.gif", "actor0_compare.png", "actor1_compare.gif", "actor1_compare.png"]
    assert [p.name for p in paths] == names
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    n = len(PENN_ACTIONS)
    h = label_image(np.zeros((S, S, 3), np.uint8), "x").shape[0] - S  # a caption's height
    # Storyboard: per action a captioned block of 2 rows (real, generated) × 2 columns.
    board = read_image(tmp_path / "actor1_compare.png")
    block_h, block_w = h + 2 * (S + h + PAD) + PAD, 2 * (S + PAD) + PAD
    assert board.shape == (n * (block_h + PAIR_GAP) + PAIR_GAP, block_w + 2 * PAIR_GAP, 3)
    for action, (_, real, generated) in enumerate(videos):
        for row, video in enumerate((real, generated)):
            for col, t in enumerate((0, FRAMES)):
                y = PAIR_GAP + action * (block_h + PAIR_GAP) + h + PAD + row * (S + h + PAD) + h
                x = PAIR_GAP + PAD + col * (S + PAD)
                np.testing.assert_array_equal(board[y : y + S, x : x + S], video[t])
    # Animation: a column per action, captioned, the real video above the generated one.
    grid = read_video(tmp_path / "actor1_compare.gif")
    column_h, column_w = h + 2 * (S + h + PAD) + PAD, S + 2 * PAD
    assert grid.shape == (
        FRAMES + 1,
        column_h + 2 * PAIR_GAP,
        n * (column_w + PAIR_GAP) + PAIR_GAP,
        3,
    )


def test_only_a_model_of_the_synthetic_actions_can_be_compared(pipe, tmp_path):
    renamed = [a.replace("_", " ").title() for a in reversed(PENN_ACTIONS)]  # "Baseball Swing"
    shuffled = Pipeline(pipe.stage1, pipe.motion, tuple(renamed))
    assert synthetic_actions(shuffled) == [(m, 8 - m) for m in range(9)]
    assert synthetic_actions(Pipeline(pipe.stage1, pipe.motion, ("squats",))) == [(0, 7)]
    for actions, named in [(("squats", "wave", "jump"), "classes wave, jump"), ((), "no classes")]:
        with pytest.raises(KeyvidError, match=named) as error:
            compare_actions(Pipeline(pipe.stage1, pipe.motion, actions), tmp_path / "out")
        assert "synthetic actions" in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()
