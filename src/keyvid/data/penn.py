"""Penn Action (Zhang et al., ICCV 2013) as the paper uses it: 9 classes, the authors' split.

Reads the official release as unpacked::

    SRC/frames/<id>/000001.jpg ...    every frame of video <id> (4 digits, 0001-2326)
    SRC/labels/<id>.mat               action, x, y, visibility, bbox, nframes, ...

Which videos, and in which split, comes from the authors' published split
(``keyvid/data/penn_split/{train,test}_set.txt``: 1172 train / 90 test, lines
``frames/<id> <class index>``), so the result matches the paper's protocol.

**Crop.** The authors' loader resizes the short side to 128 and crops the long
side (centred at test time). Actors near a frame's edge lose limbs that way, so we
crop one square per video around the union of the actor's per-frame boxes
(``bbox``, [x1 y1 x2 y2]) plus a 10 % margin, no larger than the short side and kept
inside the frame (:func:`keyvid.data.crop.box_around`), and resize it to
``size × size``. One box per video keeps the background still. Without usable boxes
the visible joints' extent is used, and failing that the authors' centred crop.

**Joints.** The 13 annotated joints (Penn Action's order, ``keyvid.data.skeleton``)
are moved with the crop and stored for evaluation only; a joint marked invisible is
stored as NaN. Label coordinates are MATLAB's, 1-based.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import numpy as np

from keyvid.data.actions import PENN_ACTIONS, normalize_action_name
from keyvid.data.crop import Box, box_around, center_box, crop_resize, points_into_box
from keyvid.data.skeleton import JOINT_NAMES
from keyvid.data.sources import (
    Clip,
    PrepareReport,
    SourceVideo,
    folder_listing,
    logger,
    write_sources,
)
from keyvid.errors import KeyvidError
from keyvid.extras import require
from keyvid.io.image import read_image

# Penn Action's own spelling of the classes whose names differ from ours.
_PENN_NAMES = {"pullup": "pull_ups", "squat": "squats"}
_REQUIRED_FIELDS = ("action", "x", "y", "visibility", "nframes")
PAPER_SIZE = 128  # paper Sec. 3.2


def read_split(split: str) -> list[tuple[str, int]]:
    """The authors' split as (video id, class index) pairs, from the package data."""
    text = resources.files("keyvid.data").joinpath(f"penn_split/{split}_set.txt").read_text()
    pairs = []
    for line in text.splitlines():
        if line.strip():
            path, index = line.split()
            pairs.append((path.split("/")[-1], int(index)))
    return pairs


def check_layout(src: Path) -> None:
    """Refuse a SRC that is not the unpacked release, saying what was expected and found."""
    if not src.is_dir():
        raise KeyvidError(f"--src {src} is not a folder; pass the unpacked Penn_Action folder")
    missing = [name for name in ("frames", "labels") if not (src / name).is_dir()]
    if missing:
        found = folder_listing(src)
        raise KeyvidError(
            f"--src {src} is not the Penn Action layout: expected the folders frames/ "
            f"(frames/0001/000001.jpg ...) and labels/ (labels/0001.mat ...), missing "
            f"{', '.join(m + '/' for m in missing)}; found: {found}"
        )


def load_labels(path: Path) -> dict:
    """One ``labels/<id>.mat`` as a dict of arrays; KeyvidError if unreadable or incomplete."""
    require("penn")
    from scipy.io import loadmat

    if not path.is_file():
        raise KeyvidError(f"label file {path} is missing")
    try:
        mat = loadmat(path, squeeze_me=True)
    except Exception as e:  # scipy raises ValueError, TypeError, MatReadError ... on bad files
        raise KeyvidError(f"label file {path} is unreadable ({e})") from None
    absent = [f for f in _REQUIRED_FIELDS if f not in mat]
    if absent:
        raise KeyvidError(f"label file {path} lacks the field(s) {', '.join(absent)}")
    return mat


def actor_box(labels: dict, height: int, width: int) -> Box:
    """The crop of a video: around its boxes, else its visible joints, else centred."""
    bbox = np.asarray(labels.get("bbox", []), dtype=np.float64).reshape(-1, 4)
    usable = np.isfinite(bbox).all(axis=1) & (bbox[:, 2] > bbox[:, 0]) & (bbox[:, 3] > bbox[:, 1])
    bbox = bbox[usable]
    if len(bbox):
        # 1-based inclusive pixels x1..x2 cover [x1 - 1, x2) in continuous coordinates.
        x1, y1 = bbox[:, :2].min(axis=0) - 1.0
        x2, y2 = bbox[:, 2:].max(axis=0)
        return box_around(x1, y1, x2, y2, height=height, width=width)
    joints = joint_pixels(labels) + 0.5  # pixel centres in continuous coordinates
    if np.isfinite(joints).any():
        lo, hi = np.nanmin(joints, axis=(0, 1)), np.nanmax(joints, axis=(0, 1))
        return box_around(lo[0], lo[1], hi[0], hi[1], height=height, width=width)
    return center_box(height, width)


def joint_pixels(labels: dict) -> np.ndarray:
    """(T, 13, 2) 0-based pixel-centre joints, NaN where the label says invisible."""
    x = np.atleast_2d(np.asarray(labels["x"], dtype=np.float64))
    y = np.atleast_2d(np.asarray(labels["y"], dtype=np.float64))
    visible = np.atleast_2d(np.asarray(labels["visibility"])).astype(bool)
    if not x.shape == y.shape == visible.shape or x.shape[1] != len(JOINT_NAMES):
        raise KeyvidError(
            f"joint fields x, y, visibility have shapes {x.shape}, {y.shape}, {visible.shape}; "
            f"expected (nframes, {len(JOINT_NAMES)}) each"
        )
    points = np.stack([x, y], axis=-1) - 1.0  # (T, 13, 2), MATLAB 1-based -> 0-based
    points[~visible] = np.nan
    return points


def read_penn_video(frames_dir: Path, labels_path: Path, action: int, size: int) -> Clip:
    """Frames and joints of one video, cropped around the actor and resized."""
    labels = load_labels(labels_path)
    name = normalize_action_name(str(labels["action"]))
    name = _PENN_NAMES.get(name, name)
    if name != PENN_ACTIONS[action]:
        raise KeyvidError(
            f"{labels_path} says {labels['action']!r} but the split lists the video as "
            f"{PENN_ACTIONS[action]!r}; is SRC the official release?"
        )
    num_frames = int(labels["nframes"])
    files = [frames_dir / f"{i:06d}.jpg" for i in range(1, num_frames + 1)]
    absent = [f.name for f in files if not f.is_file()]
    if absent:
        raise KeyvidError(
            f"{frames_dir} lacks {len(absent)} of its {num_frames} frames (first: {absent[0]})"
        )
    joints = joint_pixels(labels)
    if len(joints) != num_frames:
        raise KeyvidError(f"{labels_path}: {len(joints)} rows of joints for {num_frames} frames")
    first = read_image(files[0])
    height, width = first.shape[:2]
    box = actor_box(labels, height, width)
    frames = []
    for file in files:
        frame = first if file == files[0] else read_image(file)
        if frame.shape[:2] != (height, width):
            raise KeyvidError(f"{file} is {frame.shape[1]}×{frame.shape[0]}, not {width}×{height}")
        frames.append(crop_resize(frame, box, size))
    return Clip(np.stack(frames), points_into_box(joints, box, size))


def penn_videos(src: Path, size: int) -> list[SourceVideo]:
    """The split's videos found in SRC; the absent ones are reported in one warning."""
    check_layout(src)
    videos, absent = [], []
    for split in ("train", "test"):
        for video_id, action in read_split(split):
            frames_dir = src / "frames" / video_id
            if not frames_dir.is_dir():
                absent.append(video_id)
                continue
            labels = src / "labels" / f"{video_id}.mat"
            read = functools.partial(read_penn_video, frames_dir, labels, action, size)
            videos.append(SourceVideo(split, video_id, action, frames_dir, read))
    if absent:
        logger.warning(
            "%d videos of the authors' split are not in %s (first: %s); the dataset will lack them",
            len(absent),
            src / "frames",
            ", ".join(absent[:5]),
        )
    if not videos:
        raise KeyvidError(
            f"{src / 'frames'} holds none of the split's videos (0001 ... 2326); "
            "is SRC the unpacked Penn_Action release?"
        )
    return videos


def prepare_penn(
    src: str | Path,
    out: str | Path,
    *,
    size: int = PAPER_SIZE,
    overwrite: bool = False,
    progress: bool = True,
) -> PrepareReport:
    """``keyvid data prepare penn``: the paper's 9-class Penn Action at ``size × size``."""
    require("penn")  # before anything: not one warning per video, then a failure
    src = Path(src)
    videos = penn_videos(src, size)
    return write_sources(
        videos,
        out,
        actions=PENN_ACTIONS,
        size=size,
        joint_names=JOINT_NAMES,
        name="penn",
        source={"kind": "penn", "src": str(src.resolve()), "split": "Kim et al. 2019"},
        overwrite=overwrite,
        progress=progress,
    )
