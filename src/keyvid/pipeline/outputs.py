"""What a pipeline call made, written out: videos (one per sample or a grid) and keypoints
JSON (read back by ``load_keypoints_json``)."""

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
    return write_keypoints_json(result.keypoints, path, action=result.action)


def write_keypoints_json(keypoints: np.ndarray, path: str | Path, *, action=None) -> Path:
    """(S, T, K, 2) keypoints in the format ``load_keypoints_json`` reads."""
    path = Path(path)
    doc = {
        "action": action,
        "coordinates": "(x, y) in [-1, 1]: -1 is the centre of the first pixel, "
        "+1 the centre of the last (grid_sample, align_corners=True)",
        "frame_0": "the input image",
        "keypoints": np.round(np.asarray(keypoints, dtype=np.float64), 5).tolist(),
    }
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(doc) + "\n")
    return path


# Keypoints a file may hold: a little outside the image is fine (a limb leaving the frame),
# far outside is a corrupt or foreign file.
KEYPOINT_LIMIT = 4.0


def load_keypoints_json(path: str | Path) -> np.ndarray:
    """Read what ``save_keypoints_json`` wrote (or an edited copy) as (S, T, K, 2) float32.

    The file must hold ``{"keypoints": [[[[x, y], ...], ...], ...]}``: a rectangular
    sample × frame × keypoint × 2 array of finite numbers within ±KEYPOINT_LIMIT.
    Anything else is a KeyvidError naming the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise KeyvidError(f"{path}: no such keypoint file; check the path")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise KeyvidError(f"{path} is not readable JSON ({e})") from None
    if not isinstance(doc, dict) or "keypoints" not in doc:
        raise KeyvidError(f'{path} holds no "keypoints" entry; write it with --keypoints-out')
    try:
        with np.errstate(over="ignore"):  # a huge number becomes inf: refused just below
            points = np.array(doc["keypoints"], dtype=np.float32)
    except (TypeError, ValueError, OverflowError):
        raise KeyvidError(
            f"{path}: keypoints must be numbers in a sample × frame × keypoint × 2 array"
        ) from None
    if points.ndim != 4 or points.shape[-1] != 2 or 0 in points.shape:
        raise KeyvidError(
            f"{path}: keypoints have shape {points.shape}, expected (samples, frames, K, 2)"
        )
    if not np.isfinite(points).all() or np.abs(points).max() > KEYPOINT_LIMIT:
        raise KeyvidError(
            f"{path}: keypoints must be finite (x, y) in [-1, 1] (at most ±{KEYPOINT_LIMIT})"
        )
    return points
