"""Writing what a pipeline call made: videos (one per sample or a grid) and keypoints JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from keyvid.errors import KeyvidError
from keyvid.io.image import atomic_output
from keyvid.io.video import WRITE_SUFFIXES, write_video
from keyvid.pipeline.generate import Generation
from keyvid.viz import draw_keypoints_video, upscale, video_grid


def check_output_path(path: Path, suffixes: tuple[str, ...] = WRITE_SUFFIXES) -> None:
    """Refuse, before any work, an output with the wrong suffix or in a missing folder."""
    if path.is_dir():
        raise KeyvidError(f"{path} is a folder; give a file name such as {path / 'out.gif'}")
    if path.suffix.lower() not in suffixes:
        raise KeyvidError(
            f"{path}: unsupported output type {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(suffixes)}"
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise KeyvidError(f"{path}: the folder {parent} does not exist; create it first")


def sample_paths(out: Path, samples: int) -> list[Path]:
    """One sample: ``out`` itself; several: ``out``'s stem + ``_1``, ``_2``, ..."""
    if samples == 1:
        return [out]
    return [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(1, samples + 1)]


def render_videos(result: Generation, *, overlay: bool = False, scale: int = 1) -> np.ndarray:
    """(S, T, H·scale, W·scale, 3) uint8 videos, with keypoints drawn when ``overlay``."""
    videos = [upscale(v, scale) if scale > 1 else v for v in result.frames]
    if overlay:
        videos = [
            draw_keypoints_video(v, kp) for v, kp in zip(videos, result.keypoints, strict=True)
        ]
    return np.stack(videos)


def save_videos(
    result: Generation,
    out: str | Path,
    *,
    grid: bool = False,
    overlay: bool = False,
    scale: int = 1,
    fps: float = 8.0,
) -> list[Path]:
    """Write each sample to its own file (see ``sample_paths``) or all side by side to ``out``."""
    out = Path(out)
    videos = render_videos(result, overlay=overlay, scale=scale)
    if grid:
        return [write_video(out, video_grid(list(videos), ncols=len(videos)), fps=fps)]
    paths = sample_paths(out, len(videos))
    return [write_video(p, v, fps=fps) for p, v in zip(paths, videos, strict=True)]


def save_keypoints_json(result: Generation, path: str | Path) -> Path:
    """Keypoint sequences as JSON: ``keypoints[sample][frame][k] = [x, y]`` in [-1, 1]."""
    path = Path(path)
    doc = {
        "action": result.action,
        "coordinates": "(x, y) in [-1, 1]: -1 is the centre of the first pixel, "
        "+1 the centre of the last (grid_sample, align_corners=True)",
        "frame_0": "the input image",
        "keypoints": np.round(result.keypoints, 5).tolist(),
    }
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(doc) + "\n")
    return path
