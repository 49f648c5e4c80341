"""Any folder of videos: the "train on my own videos" path.

Three ways to say which video shows which action:

- one subfolder per action: ``SRC/<action>/<video>`` (a video file, a folder of
  frames or a frame strip; the action names are the folder names);
- a CSV file as SRC with rows ``path,action[,split]`` (paths relative to the CSV,
  an optional header row, split ``train``/``test`` or empty);
- ``--single-action NAME``: every video directly in SRC shows the one action
  (stage 2 then runs unconditioned, as for UvA-NEMO and MGIF).

Where no split is given, it is deterministic and stable: within each action the
videos are ordered by a hash of their path and the first ``test_fraction`` of them
(at least one when the action has two or more) become the test split. Whole source
videos are split, never clips of one video, so no test frame was seen in training.

Every video is centre-cropped to a square, resized to ``size``, brought to at most
``fps`` frames per second and cut into clips of ``clip_frames``.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import math
from pathlib import Path

from keyvid.data.actions import normalize_action_name
from keyvid.data.sources import (
    MIN_FRAMES,
    PrepareReport,
    SourceVideo,
    list_videos,
    read_centered,
    video_id,
    write_sources,
)
from keyvid.errors import KeyvidError
from keyvid.io.image import IMAGE_SUFFIXES

DEFAULT_SIZE = 128  # the paper's resolution (Sec. 3.2)
# 15 frames/s and 5-second clips: 75 frames, about the length of a Penn Action video,
# so stage 2's 33-frame sequences span most of a clip at stride 2.
DEFAULT_FPS = 15.0
DEFAULT_CLIP_FRAMES = 75
DEFAULT_TEST_FRACTION = 0.1

# (path, action name, split or None)
Entry = tuple[Path, str, str | None]


def folder_entries(src: Path, single_action: str | None = None) -> list[Entry]:
    """The videos of SRC with their action names (and split, from a CSV)."""
    if src.is_file() and src.suffix.lower() == ".csv":
        return csv_entries(src)
    if not src.is_dir():
        raise KeyvidError(
            f"--src {src} is neither a folder nor a .csv file; pass a folder with one "
            "subfolder per action, or a CSV of path,action[,split]"
        )
    if single_action is not None:
        paths = list_videos(src)
        if not paths:
            raise KeyvidError(f"{src} holds no videos (video files or frame folders)")
        return [(p, single_action, None) for p in paths]
    action_dirs = sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not action_dirs:
        loose = len(list_videos(src))
        raise KeyvidError(
            f"--src {src} has no action subfolders: expected SRC/<action>/<video>.mp4 "
            f"(found {loose} video(s) directly in SRC); move them into one folder per action, "
            "or pass --single-action NAME"
        )
    entries = []
    for folder in action_dirs:
        paths = list_videos(folder)
        if not paths:
            raise KeyvidError(
                f"action folder {folder} holds no videos; add some or remove the folder"
            )
        stills = [p for p in paths if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if len(paths) > 1 and len(stills) == len(paths):
            raise KeyvidError(
                f"{folder} holds frames, not videos: each subfolder of SRC is an action, "
                f"holding videos (files or frame folders); put it in SRC/<action>/{folder.name}/"
            )
        entries += [(p, folder.name, None) for p in paths]
    return entries


def csv_entries(path: Path) -> list[Entry]:
    """Rows ``path,action[,split]`` of a CSV file (header row optional)."""
    entries = []
    with open(path, newline="") as f:
        for line, row in enumerate(csv.reader(f), start=1):
            row = [cell.strip() for cell in row]
            if not any(row) or (line == 1 and row[0].lower() == "path"):
                continue
            if len(row) < 2 or not row[0] or not row[1] or len(row) > 3:
                raise KeyvidError(
                    f"{path}:{line}: expected path,action[,split], got {','.join(row)!r}"
                )
            split = row[2].lower() if len(row) == 3 and row[2] else None
            if split not in (None, "train", "test"):
                raise KeyvidError(f"{path}:{line}: split {row[2]!r} is not train, test or empty")
            entries.append(((path.parent / row[0]), row[1], split))
    if not entries:
        raise KeyvidError(f"{path} lists no videos; add rows path,action[,split]")
    return entries


def assign_splits(entries: list[Entry], test_fraction: float) -> list[Entry]:
    """Give every entry without a split one, deterministically (see the module docstring)."""
    by_action: dict[str, list[Entry]] = {}
    for entry in entries:
        by_action.setdefault(entry[1], []).append(entry)
    result = []
    for group in by_action.values():
        open_ = sorted(
            (e for e in group if e[2] is None),
            # Hash the action and file name, not the whole path: the split must not
            # change with the folder SRC was given from (relative, absolute, moved).
            key=lambda e: (hashlib.sha1(f"{e[1]}/{e[0].name}".encode()).hexdigest(), e[0].name),
        )
        given_test = sum(e[2] == "test" for e in group)
        wanted = math.ceil(test_fraction * len(group)) if len(group) > 1 and test_fraction else 0
        extra = min(max(wanted - given_test, 0), max(len(open_) - 1, 0))
        result += [e for e in group if e[2] is not None]
        result += [(p, a, "test" if i < extra else "train") for i, (p, a, _) in enumerate(open_)]
    return result


def prepare_folder(
    src: str | Path,
    out: str | Path,
    *,
    single_action: str | None = None,
    size: int = DEFAULT_SIZE,
    fps: float | None = DEFAULT_FPS,
    clip_frames: int | None = DEFAULT_CLIP_FRAMES,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    min_frames: int = MIN_FRAMES,
    overwrite: bool = False,
    progress: bool = True,
) -> PrepareReport:
    """``keyvid data prepare folder``: own videos into a prepared dataset."""
    src = Path(src)
    if not 0.0 <= test_fraction < 1.0:
        raise KeyvidError(f"--test-fraction {test_fraction} must be in [0, 1)")
    if clip_frames is not None and clip_frames < 2:
        raise KeyvidError(f"--clip-frames {clip_frames} must be at least 2 (or 0 for whole videos)")
    if single_action is not None and not normalize_action_name(single_action):
        raise KeyvidError("--single-action must name the action, e.g. --single-action dance")
    entries = assign_splits(folder_entries(src, single_action), test_fraction)
    actions = sorted({normalize_action_name(a) for _, a, _ in entries})
    index = {a: i for i, a in enumerate(actions)}
    root = src.parent if src.is_file() else src
    videos = [
        SourceVideo(
            split,
            video_id(path, root) if path.is_relative_to(root) else path.as_posix(),
            index[normalize_action_name(action)],
            path,
            functools.partial(read_centered, path, size, fps=fps),
        )
        for path, action, split in entries
    ]
    return write_sources(
        videos,
        out,
        actions=actions,
        size=size,
        name=normalize_action_name(src.resolve().stem) or "videos",
        source={
            "kind": "folder",
            "src": str(src.resolve()),
            "fps": fps,
            "clip_frames": clip_frames,
            "test_fraction": test_fraction,
        },
        clip_frames=clip_frames,
        overwrite=overwrite,
        min_frames=min_frames,
        progress=progress,
    )
