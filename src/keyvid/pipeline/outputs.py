"""What a pipeline call made, written out: videos (one per sample or a grid) and keypoints
JSON (read back by ``load_keypoints_json``). A ``GenerationStream`` is written chunk by
chunk as it renders, so a long video never sits in memory whole."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from keyvid.errors import KeyvidError
from keyvid.io.image import atomic_output
from keyvid.io.video import WRITE_SUFFIXES, open_video
from keyvid.pipeline.generate import Generation, GenerationStream
from keyvid.viz import draw_keypoints_video, image_grid, upscale


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
    pairs = zip(result.frames, result.keypoints, strict=True)
    return np.stack([view_frames(v, kp, overlay=overlay, scale=scale) for v, kp in pairs])


def view_frames(
    frames: np.ndarray, keypoints: np.ndarray, *, overlay: bool = False, scale: int = 1
) -> np.ndarray:
    """(N, H, W, 3) frames enlarged ``scale`` times, with their (N, K, 2) keypoints drawn
    when ``overlay``: the frames of one video or one time step of several."""
    frames = upscale(frames, scale) if scale > 1 else frames
    return draw_keypoints_video(frames, keypoints) if overlay else frames


def save_videos(
    result: Generation | GenerationStream,
    out: str | Path,
    *,
    grid: bool = False,
    overlay: bool = False,
    scale: int = 1,
    fps: float = 8.0,
) -> list[Path]:
    """Write each sample to its own file (see ``sample_paths``) or all side by side to ``out``.

    Frames go to the files one time step at a time, and a stream renders as it is
    written: memory does not grow with the length of the videos. The files appear
    together at the end, or none does if anything fails.
    """
    out = Path(out)
    paths = [out] if grid else sample_paths(out, len(result.keypoints))
    chunks = [result] if isinstance(result, Generation) else result
    with ExitStack() as files:
        videos = [files.enter_context(open_video(path, fps=fps)) for path in paths]
        for chunk in chunks:
            for t in range(chunk.frames.shape[1]):
                cells = view_frames(
                    chunk.frames[:, t], chunk.keypoints[:, t], overlay=overlay, scale=scale
                )
                frames = [image_grid(cells, ncols=len(cells))] if grid else cells
                for video, frame in zip(videos, frames, strict=True):
                    video.write(frame[None])
    return paths


def save_keypoints_json(result: Generation | GenerationStream, path: str | Path) -> Path:
    """Keypoint sequences as JSON: ``keypoints[sample][frame][k] = [x, y]`` in [-1, 1]."""
    return write_keypoints_json(result.keypoints, path, action=result.action)


def write_keypoints_json(keypoints: np.ndarray, path: str | Path, *, action=None) -> Path:
    """(S, T, K, 2) keypoints in the format ``load_keypoints_json`` reads.

    The samples are turned into text one at a time (64 samples of 4097 frames would
    take hundreds of MB as Python lists); the file is ``json.dumps`` of the whole.
    """
    path = Path(path)
    doc = {
        "action": action,
        "coordinates": "(x, y) in [-1, 1]: -1 is the centre of the first pixel, "
        "+1 the centre of the last (grid_sample, align_corners=True)",
        "frame_0": "the input image",
        "keypoints": [],
    }
    head = json.dumps(doc)[: -len("[]}")]
    with atomic_output(path) as tmp, tmp.open("w") as file:
        file.write(head + "[")
        for i, sample in enumerate(np.asarray(keypoints, dtype=np.float64)):
            file.write((", " if i else "") + json.dumps(np.round(sample, 5).tolist()))
        file.write("]}\n")
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
