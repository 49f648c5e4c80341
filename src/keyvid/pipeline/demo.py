"""``keyvid demo``: every action on a few held-out synthetic actors, as the paper's Figure 5.

Actors are drawn by the synthetic generator from a seed stream no dataset split
uses (``SeedSequence([seed, crc32("demo"), i])``), so the model has never seen
them. For each actor the demo writes

- ``actor<i>.gif``: one row per action, columns = the input with its keypoints,
  then each sample's video (keypoints drawn on the first sample);
- ``actor<i>_storyboard.png``: one row per action, the input then every 4th
  generated frame of the first sample (Figure 5's layout).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from keyvid.data.synth import render_video
from keyvid.io import write_image, write_video
from keyvid.pipeline.generate import Pipeline
from keyvid.pipeline.outputs import render_videos
from keyvid.viz import (
    draw_keypoints,
    draw_keypoints_video,
    image_grid,
    label_image,
    video_grid,
)

STORYBOARD_EVERY = 4  # frames between storyboard columns: 32 frames -> 8 columns


def demo_actors(count: int, *, seed: int = 0, size: int = 64) -> list[np.ndarray]:
    """``count`` unseen synthetic actors as (size, size, 3) uint8 images (first video frame)."""
    code = zlib.crc32(b"demo")
    images = []
    for i in range(count):
        video, _ = render_video(i % 9, np.random.SeedSequence([seed, code, i]), size=size, frames=1)
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
    """Generate every action for ``actors`` unseen actors; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    bar = tqdm(total=actors * len(pipe.actions), desc="demo", unit="video", disable=not progress)
    for a, image in enumerate(demo_actors(actors, seed=seed, size=pipe.image_size)):
        cells, board = [], []
        for act, name in enumerate(pipe.actions):
            result = pipe(image, act, frames=frames, samples=samples, seed=seed + act)
            videos = render_videos(result, scale=scale)  # (S, T+1, H, W, 3)
            start = label_image(draw_keypoints(videos[0, 0], result.keypoints[0, 0]), name)
            overlay = draw_keypoints_video(videos[0], result.keypoints[0])
            row = [start[None], _caption(overlay, "keypoints")]
            row += [_caption(v, f"sample {i + 1}") for i, v in enumerate(videos)]
            cells += row
            steps = range(0, frames + 1, STORYBOARD_EVERY)
            board += [label_image(videos[0, t], name if t == 0 else f"t={t}") for t in steps]
            bar.update(1)
        gif = write_video(out_dir / f"actor{a}.gif", video_grid(cells, ncols=2 + samples), fps=fps)
        png = write_image(out_dir / f"actor{a}_storyboard.png", image_grid(board, ncols=len(steps)))
        written += [gif, png]
    bar.close()
    return written


def _caption(video: np.ndarray, text: str) -> np.ndarray:
    return np.stack([label_image(f, text) for f in video])
