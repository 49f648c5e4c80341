"""``keyvid demo``: every action on a few held-out synthetic actors, as the paper's Figure 5.

Actors are drawn by the synthetic generator from a seed stream no dataset split
uses (``SeedSequence([seed, crc32("demo"), i])``), so the model has never seen
them. For each actor the demo writes

- ``actor<i>.gif``: one row per action, columns = the input with its keypoints,
  then each sample's video (keypoints drawn on the first sample);
- ``actor<i>.mp4``: the same animation as an MP4 (H.264 where PyAV has it), a
  fraction of the GIF's size;
- ``actor<i>_storyboard.png``: one row per action, the input then every 4th
  generated frame of the first sample (Figure 5's layout).

:func:`compare_actions` (``keyvid demo --compare``) adds, for a model of the synthetic
actions, ``actor<i>_compare.png`` / ``.gif`` / ``.mp4``: each action's real synthetic
video above the video the model generates from its first frame.

The GIFs share one palette over all their frames (``gif_palette="shared"``): most of a
grid's pixels (captions, inputs, backgrounds) stay put, and with one palette each frame
stores only the pixels that changed. The shipped model's three ``actor<i>.gif`` went
from 4.7-6.8 MB (a palette per frame, so each frame stored almost whole) to 1.0-1.4 MB,
their frames on average 2.2-2.9 levels of 255 from the rendered ones (were 2.0-2.8;
the worst pixel 30-52, was 133-161: keypoint dots lost their colour); the MP4s are
0.5-0.7 MB.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from keyvid.data.actions import PENN_ACTIONS, normalize_action_name
from keyvid.data.synth import render_video
from keyvid.errors import KeyvidError
from keyvid.io import write_image, write_video
from keyvid.pipeline.generate import MAX_FRAMES, Pipeline
from keyvid.pipeline.outputs import render_videos
from keyvid.viz import (
    draw_keypoints,
    draw_keypoints_video,
    image_grid,
    label_image,
    upscale,
    video_grid,
)

STORYBOARD_EVERY = 4  # frames between storyboard columns: 32 frames -> 8 columns
PAIR_GAP = 8  # px between the (real, generated) row pairs of a compare storyboard


def actor_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The randomness of demo actor ``index``: a stream no dataset split uses."""
    return np.random.SeedSequence([seed, zlib.crc32(b"demo"), index])


def demo_actors(count: int, *, seed: int = 0, size: int = 64) -> list[np.ndarray]:
    """``count`` unseen synthetic actors as (size, size, 3) uint8 images (first video frame)."""
    images = []
    for i in range(count):
        video, _ = render_video(i % 9, actor_seed(seed, i), size=size, frames=1)
        images.append(video[0])
    return images


def make_demo(
    pipe: Pipeline,
    out_dir: str | Path,
    *,
    actors: int = 3,
    samples: int = 2,
    frames: int = 32,
    seed: int = 0,
    scale: int = 2,
    fps: float = 8.0,
    progress: bool = True,
) -> list[Path]:
    """Generate every action for ``actors`` unseen actors; returns the files written,
    per actor ``actor<i>.gif``, ``actor<i>.mp4`` and ``actor<i>_storyboard.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    bar = tqdm(total=actors * len(pipe.actions), desc="demo", unit="video", disable=not progress)
    for a, image in enumerate(demo_actors(actors, seed=seed, size=pipe.image_size)):
        grid, board = actor_demo(
            pipe, image, samples=samples, frames=frames, seed=seed, scale=scale, done=bar.update
        )
        written += write_animation(out_dir / f"actor{a}.gif", grid, fps=fps)
        written.append(write_image(out_dir / f"actor{a}_storyboard.png", board))
    bar.close()
    return written


def actor_demo(
    pipe: Pipeline,
    image: np.ndarray,
    *,
    samples: int = 2,
    frames: int = 32,
    seed: int = 0,
    scale: int = 2,
    done: Callable[[int], object] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One actor's demo as :func:`make_demo` writes it: the animated grid
    ``(frames + 1, H, W, 3)`` and the storyboard ``(H', W', 3)``, both uint8, frames
    enlarged ``scale`` times; ``done(1)`` is called after each action."""
    cells, board = [], []
    steps = range(0, frames + 1, STORYBOARD_EVERY)
    for act, name in enumerate(pipe.actions):
        result = pipe(image, act, frames=frames, samples=samples, seed=seed + act)
        videos = render_videos(result, scale=scale)  # (S, T+1, H, W, 3)
        start = label_image(draw_keypoints(videos[0, 0], result.keypoints[0, 0]), name)
        overlay = draw_keypoints_video(videos[0], result.keypoints[0])
        cells += [start[None], _caption(overlay, "keypoints")]
        cells += [_caption(v, f"sample {i + 1}") for i, v in enumerate(videos)]
        board += storyboard_row(videos[0], steps, name)
        if done is not None:
            done(1)
    return video_grid(cells, ncols=2 + samples), image_grid(board, ncols=len(steps))


def write_animation(gif: Path, frames: np.ndarray, *, fps: float = 8.0) -> list[Path]:
    """Write ``frames`` to ``gif`` (one palette shared by all frames, so frames store only
    what changed) and to the MP4 beside it (same name, ``.mp4``); returns both paths."""
    return [
        write_video(gif, frames, fps=fps, gif_palette="shared"),
        write_video(gif.with_suffix(".mp4"), frames, fps=fps),
    ]


def storyboard_row(video: np.ndarray, steps: range, first: str) -> list[np.ndarray]:
    """Frames ``steps`` of ``video`` (T, H, W, 3), captioned: the first ``first``, the
    others ``t=<index>``; one storyboard row for ``image_grid(..., ncols=len(steps))``."""
    return [label_image(video[t], first if i == 0 else f"t={t}") for i, t in enumerate(steps)]


# -- real vs generated ------------------------------------------------------------------------


def synthetic_actions(pipe: Pipeline) -> list[tuple[int, int]]:
    """``(model class, synthetic renderer class)`` index pairs, one per class of the model.

    Raises KeyvidError when the model has no classes or a class the synthetic renderer
    does not draw (a model of real videos, of ``clips``, ...): there is no real video
    to compare with. Names match case/space/underscore-insensitively, in any order.
    """
    renderer = {normalize_action_name(a): i for i, a in enumerate(PENN_ACTIONS)}
    other = [a for a in pipe.actions if normalize_action_name(a) not in renderer]
    if not pipe.actions or other:
        what = f"its classes {', '.join(other)} are not" if other else "it has no classes"
        raise KeyvidError(
            f"comparing with real videos needs a model of the synthetic actions "
            f"({', '.join(PENN_ACTIONS)}), whose real videos keyvid can draw; {what}. "
            "Use a model trained on `keyvid data synth` data, such as the shipped synth"
        )
    return [(m, renderer[normalize_action_name(a)]) for m, a in enumerate(pipe.actions)]


def compare_videos(
    pipe: Pipeline, actor: int, *, frames: int = 32, seed: int = 0
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(action, real, generated)`` for every class of ``pipe``, for demo actor ``actor``.

    ``real`` is the synthetic video of the action, ``(frames + 1, H, W, 3)`` uint8 at the
    model's image size, rendered from the actor's seed (:func:`actor_seed`);
    ``generated`` is the model's video (one sample, ``seed + class index`` as in
    :func:`make_demo`) from ``real[0]``, so both start from the same frame.

    Actors: the renderer draws an actor (body proportions, clothes, colours, light),
    the pose's timing, placement, background and distractors from one rng, in the same
    number of draws whatever the action. So every action is rendered from the actor's
    one seed: each column shows the same person in the same scene, only the pose (and
    the size and position fitted to its extent over the video) follows the action. The
    person is the one of ``demo_actors(...)[actor]`` and of ``make_demo``'s
    ``actor<i>`` files, which come from the same seed.

    First frames: each action's real video starts from its own pose, so each action has
    its own first frame; the generated video is made from exactly that frame, which
    both rows therefore share (``real[0] == generated[0]``).
    """
    pairs = synthetic_actions(pipe)
    if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= MAX_FRAMES:
        raise KeyvidError(f"frames must be a whole number from 1 to {MAX_FRAMES}, got {frames!r}")
    out = []
    for model_class, render_class in pairs:
        real, _ = render_video(
            render_class, actor_seed(seed, actor), size=pipe.image_size, frames=frames + 1
        )
        result = pipe(real[0], model_class, frames=frames, samples=1, seed=seed + model_class)
        out.append((pipe.actions[model_class], real, result.frames[0]))
    return out


def compare_storyboard(
    videos: list[tuple[str, np.ndarray, np.ndarray]], *, every: int = STORYBOARD_EVERY
) -> np.ndarray:
    """One image: per action a block captioned with its name, holding two rows, the real
    video (first cell captioned ``real``) above the generated one (``generated``), every
    ``every``-th frame (others captioned ``t=<index>``); blocks ``PAIR_GAP`` px apart."""
    blocks = []
    for name, real, generated in videos:
        steps = range(0, len(real), every)
        cells = storyboard_row(real, steps, "real") + storyboard_row(generated, steps, "generated")
        blocks.append(label_image(image_grid(cells, ncols=len(steps)), name))
    return image_grid(blocks, ncols=1, pad=PAIR_GAP)


def compare_grid(videos: list[tuple[str, np.ndarray, np.ndarray]]) -> np.ndarray:
    """One video: a column per action captioned with its name, the real video (captioned
    ``real``) above the generated one (``generated``)."""
    columns = []
    for name, real, generated in videos:
        pair = video_grid([_caption(real, "real"), _caption(generated, "generated")], ncols=1)
        columns.append(_caption(pair, name))
    return video_grid(columns, ncols=len(columns), pad=PAIR_GAP)


def compare_actions(
    pipe: Pipeline,
    out_dir: str | Path,
    *,
    actors: int = 3,
    frames: int = 32,
    seed: int = 0,
    scale: int = 2,
    fps: float = 8.0,
    progress: bool = True,
) -> list[Path]:
    """Real above generated, every action, for ``actors`` demo actors; returns the files.

    Writes ``actor<i>_compare.png`` (:func:`compare_storyboard`) and
    ``actor<i>_compare.gif`` and ``.mp4`` (:func:`compare_grid`, see
    :func:`write_animation`), frames enlarged ``scale`` times;
    see :func:`compare_videos` for how actors and first frames are chosen. Needs a
    model of the synthetic actions (:func:`synthetic_actions`).
    """
    synthetic_actions(pipe)  # before making the folder
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for a in tqdm(range(actors), desc="compare", unit="actor", disable=not progress):
        videos = [
            (name, upscale(real, scale), upscale(generated, scale))
            for name, real, generated in compare_videos(pipe, a, frames=frames, seed=seed)
        ]
        png = write_image(out_dir / f"actor{a}_compare.png", compare_storyboard(videos))
        written += write_animation(out_dir / f"actor{a}_compare.gif", compare_grid(videos), fps=fps)
        written.append(png)
    return written


def _caption(video: np.ndarray, text: str) -> np.ndarray:
    return np.stack([label_image(f, text) for f in video])
