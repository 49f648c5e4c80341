"""What every real-data adapter shares: a list of source videos, written once.

An adapter (``penn``, ``fomm``, ``folder``) only finds videos and says how to read
each one; :func:`write_sources` reads them, cuts long ones into clips, skips bad
ones with a warning (never silently: each is counted, with its reason, in the
returned :class:`PrepareReport` and in ``dataset.json``), and writes the prepared
dataset atomically, so an interrupted or failed run leaves nothing that looks
finished.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from keyvid.data.crop import center_box, crop_resize
from keyvid.data.format import SPLITS, DatasetWriter
from keyvid.errors import KeyvidError
from keyvid.io.image import IMAGE_SUFFIXES, read_image
from keyvid.io.video import VIDEO_SUFFIXES, read_video, read_video_fps

logger = logging.getLogger("keyvid.data")

# Fewer frames hold too little motion for a frame pair at a distance or a sequence
# (stage 2 stretches a short video over its 33 positions by interpolation).
MIN_FRAMES = 8


@dataclass(frozen=True)
class Clip:
    """A read video: ``frames`` (T, S, S, 3) uint8, ``joints`` (T, J, 2) normalised or None."""

    frames: np.ndarray
    joints: np.ndarray | None = None


@dataclass(frozen=True)
class SourceVideo:
    """One video an adapter found; ``read()`` raises KeyvidError when it is unusable."""

    split: str
    id: str
    action: int
    path: Path
    read: Callable[[], Clip]


@dataclass
class PrepareReport:
    """What was written and what was skipped, and why."""

    root: Path
    videos: dict[str, int] = field(default_factory=dict)  # per split
    frames: dict[str, int] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"id", "path", "reason"}

    def summary(self) -> str:
        written = " + ".join(f"{self.videos.get(s, 0)} {s}" for s in SPLITS)
        total = sum(self.frames.values())
        text = f"wrote {written} videos ({total} frames) to {self.root}"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} (listed above and in dataset.json)"
        return text


def check_unique_ids(videos: Sequence[SourceVideo]) -> None:
    """Two source videos with one id would overwrite each other's pseudo-labels: refuse."""
    seen: dict[tuple[str, str], Path] = {}
    for video in videos:
        key = (video.split, video.id)
        if key in seen:
            raise KeyvidError(
                f"two videos have the id {video.id!r} in {video.split}: {seen[key]} and "
                f"{video.path}; rename one of them"
            )
        seen[key] = video.path


def split_clips(clip: Clip, clip_frames: int | None) -> list[Clip]:
    """Cut into clips of ``clip_frames``; a remainder shorter than half a clip joins the
    clip before it (a few leftover frames are not a video). None keeps the video whole."""
    n = len(clip.frames)
    if clip_frames is None or n < clip_frames * 1.5:
        return [clip]
    bounds = [*range(0, n, clip_frames), n]
    if bounds[-1] - bounds[-2] < clip_frames / 2:
        del bounds[-2]
    joints = clip.joints
    return [
        Clip(clip.frames[a:b], None if joints is None else joints[a:b]) for a, b in pairwise(bounds)
    ]


def write_sources(
    videos: Sequence[SourceVideo],
    root: str | Path,
    *,
    actions: Sequence[str],
    size: int,
    joint_names: Sequence[str] | None = None,
    name: str | None = None,
    source: dict | None = None,
    clip_frames: int | None = None,
    min_frames: int = MIN_FRAMES,
    overwrite: bool = False,
    progress: bool = True,
) -> PrepareReport:
    """Read every source video and write the prepared dataset at ``root``.

    A video that cannot be read, or a clip shorter than ``min_frames``, is skipped
    with a warning. Fails (writing nothing) when no video at all could be used.
    """
    if min_frames < 2:
        raise KeyvidError(f"--min-frames {min_frames} is too few; frame pairs need at least 2")
    check_unique_ids(videos)
    report = PrepareReport(Path(root))

    def skip(video: SourceVideo, reason: str, clip_id: str | None = None) -> None:
        clip_id = clip_id or video.id
        report.skipped.append({"id": clip_id, "path": str(video.path), "reason": reason})
        logger.warning("skipped %s (%s): %s", clip_id, video.path, reason)

    with DatasetWriter(
        root,
        actions=actions,
        size=(size, size),
        joint_names=joint_names,
        name=name,
        source=source,
        overwrite=overwrite,
    ) as writer:
        for video in tqdm(videos, desc="prepare", unit="video", disable=not progress):
            try:
                clip = video.read()
            except KeyvidError as e:
                skip(video, str(e))
                continue
            clips = split_clips(clip, clip_frames)
            for k, part in enumerate(clips):
                clip_id = video.id if len(clips) == 1 else f"{video.id}#{k:03d}"
                if len(part.frames) < min_frames:
                    skip(video, f"{len(part.frames)} frames, fewer than {min_frames}", clip_id)
                    continue
                writer.add(
                    video.split, clip_id, part.frames, action=video.action, joints=part.joints
                )
                report.videos[video.split] = report.videos.get(video.split, 0) + 1
                report.frames[video.split] = report.frames.get(video.split, 0) + len(part.frames)
        if not report.videos:
            raise KeyvidError(
                f"none of the {len(videos)} source videos could be used (see the warnings); "
                "nothing was written"
            )
        writer.source = {**writer.source, "skipped": report.skipped}
    if "test" not in report.videos:
        logger.warning(
            "the dataset has no test videos: evaluation and stage-2 validation need some; "
            "add videos or give the split explicitly"
        )
    return report


# --------------------------------------------------------------------------- video files


def list_videos(folder: Path) -> list[Path]:
    """The videos directly in ``folder``: video files, frame folders and frame strips
    (an image ``k`` times as wide as it is tall: First Order Motion Model's .png format).
    Sorted by name, so the order (and every id) is the same on every machine. Other
    files are left out with a warning that names them; hidden files are ignored."""
    entries = sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=str)
    known = VIDEO_SUFFIXES | IMAGE_SUFFIXES
    videos = [p for p in entries if p.is_dir() or p.suffix.lower() in known]
    others = [p.name for p in entries if p not in videos]
    if others:
        logger.warning(
            "%s: left out %d file(s) that are not videos: %s",
            folder,
            len(others),
            ", ".join(others[:5]) + (" ..." if len(others) > 5 else ""),
        )
    return videos


def folder_listing(folder: Path, most: int = 8) -> str:
    """What a folder holds, for a message about a layout it does not have."""
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    return ", ".join(names[:most]) or "nothing"


def video_id(path: Path, root: Path) -> str:
    """``root/a/b.mp4`` -> ``a/b``: unique within a source and readable in reports."""
    relative = path.relative_to(root)
    if relative.suffix.lower() in VIDEO_SUFFIXES | IMAGE_SUFFIXES:
        relative = relative.with_suffix("")
    return relative.as_posix()


def read_centered(path: Path, size: int, *, fps: float | None = None) -> Clip:
    """A video file, frame folder or frame strip, centre-cropped to a square and resized
    to ``size``; with ``fps``, a faster video keeps the frames nearest to ``fps`` ticks
    (a slower one keeps all of its frames: repeating frames adds no motion).
    """

    def square(frame: np.ndarray) -> np.ndarray:
        return crop_resize(frame, center_box(*frame.shape[:2]), size)

    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        frames = np.stack([square(f) for f in _strip_frames(path)])
        return Clip(frames)
    frames = read_video(path, transform=square)
    source_fps = read_video_fps(path)
    if fps and source_fps and source_fps > fps * 1.01:
        count = int(len(frames) * fps / source_fps) or 1
        ticks = np.round(np.arange(count) * source_fps / fps).astype(int)
        frames = frames[np.minimum(ticks, len(frames) - 1)]
    return Clip(frames)


def _strip_frames(path: Path) -> np.ndarray:
    image = read_image(path)
    h, w = image.shape[:2]
    if w % h:
        raise KeyvidError(
            f"{path} is a still image {w}×{h}; a frame strip must be a whole number of "
            "square frames side by side (First Order Motion Model's .png videos)"
        )
    return image.reshape(h, w // h, h, 3).transpose(1, 0, 2, 3)  # (T, H, H, 3)
