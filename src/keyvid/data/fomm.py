"""UvA-NEMO, MGIF and the like in First Order Motion Model's preprocessed layout::

    SRC/train/<video>        a folder of frames, an .mp4/.gif/.mov ... file, or a .png strip
    SRC/test/<video>

These datasets hold one action (smiles; cartoon animals moving), so the prepared
dataset has one action and stage 2 runs unconditioned on it (``configs/nemo_stage2.yaml``,
``configs/mgif_stage2.yaml``: ``model.generator.action: false``), as in the paper.
Frames are centre-cropped to a square (FOMM's are square already) and resized.
"""

from __future__ import annotations

import functools
from pathlib import Path

from keyvid.data.actions import normalize_action_name
from keyvid.data.sources import (
    PrepareReport,
    SourceVideo,
    folder_listing,
    list_videos,
    read_centered,
    video_id,
    write_sources,
)
from keyvid.errors import KeyvidError

PAPER_SIZE = 128  # paper Sec. 3.2


def fomm_videos(src: Path, size: int) -> list[SourceVideo]:
    """Every video in SRC/train and SRC/test (action 0)."""
    if not src.is_dir():
        raise KeyvidError(f"--src {src} is not a folder; pass the folder holding train/ and test/")
    if not (src / "train").is_dir():
        found = folder_listing(src)
        raise KeyvidError(
            f"--src {src} is not First Order Motion Model's layout: expected the folders "
            f"train/ and test/ holding videos (frame folders, .mp4, .gif, .mov, .png strips); "
            f"found: {found}"
        )
    videos = []
    for split in ("train", "test"):
        folder = src / split
        if not folder.is_dir():
            continue
        paths = list_videos(folder)
        if not paths:
            raise KeyvidError(f"{folder} holds no videos; expected frame folders or video files")
        for path in paths:
            read = functools.partial(read_centered, path, size)
            videos.append(SourceVideo(split, video_id(path, folder), 0, path, read))
    return videos


def prepare_fomm(
    src: str | Path,
    out: str | Path,
    *,
    single_action: str | None = None,
    size: int = PAPER_SIZE,
    overwrite: bool = False,
    progress: bool = True,
) -> PrepareReport:
    """``keyvid data prepare fomm``: one action, named ``single_action`` (default: SRC's name)."""
    src = Path(src)
    videos = fomm_videos(src, size)
    action = normalize_action_name(single_action or src.resolve().name)
    if not action:
        raise KeyvidError("--single-action must name the action, e.g. --single-action smile")
    return write_sources(
        videos,
        out,
        actions=[action],
        size=size,
        name=normalize_action_name(src.resolve().name) or "fomm",
        source={"kind": "fomm", "src": str(src.resolve())},
        overwrite=overwrite,
        progress=progress,
    )
