"""The prepared on-disk dataset format that every source converts into.

One folder per dataset::

    ROOT/
      dataset.json          name, actions, resolution, joint names, per-split counts
      train/index.json      one record per video: id, action, num_frames, offset
      train/frames.u8       all frames of the split back to back, raw (N, H, W, 3) uint8
      train/joints.f32      optional ground truth, raw (N, J, 2) float32, keyvid.coords convention
      train/keypoints/NAME.npy   optional pseudo-labels (N, K, 2) float32 (stage 2)
      test/...

Frames are raw uint8 so that a split is memory-mapped in one call and a video is
a zero-copy slice: loading costs a page-in, not a decode. A dataset is written
into a hidden temporary folder and renamed into place only when complete, so a
crash never leaves a half-written dataset that looks finished.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from keyvid.errors import KeyvidError

FORMAT_NAME = "keyvid-prepared"
FORMAT_VERSION = 1
SPLITS = ("train", "test")


@dataclass(frozen=True)
class VideoRecord:
    """One video of a split: its frames are rows ``offset : offset + num_frames``."""

    id: str
    action: int
    num_frames: int
    offset: int


class DatasetWriter:
    """Writes a prepared dataset atomically; use as a context manager.

    >>> with DatasetWriter(root, actions=PENN_ACTIONS, size=(64, 64)) as w:
    ...     w.add("train", "v0000", frames, action=3, joints=joints)
    """

    def __init__(
        self,
        root: str | Path,
        *,
        actions: tuple[str, ...] | list[str],
        size: tuple[int, int],
        joint_names: tuple[str, ...] | list[str] | None = None,
        name: str | None = None,
        source: dict | None = None,
        overwrite: bool = False,
    ) -> None:
        self.root = Path(root)
        check_output_dir(self.root, overwrite=overwrite)
        self.actions = list(actions)
        self.size = (int(size[0]), int(size[1]))
        self.joint_names = list(joint_names) if joint_names is not None else None
        self.name = name or self.root.name
        self.source = source or {}
        self.overwrite = overwrite
        self._tmp = self.root.parent / f".{self.root.name}.partial-{os.getpid()}"
        self._records: dict[str, list[VideoRecord]] = {}
        self._ids: dict[str, set[str]] = {}
        self._files: dict[str, tuple] = {}

    def __enter__(self) -> DatasetWriter:
        if self._tmp.exists():
            shutil.rmtree(self._tmp)
        self._tmp.mkdir(parents=True)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        for handles in self._files.values():
            for h in handles:
                if h is not None:
                    h.close()
        if exc_type is None:
            self._finish()
        else:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def add(
        self,
        split: str,
        video_id: str,
        frames: np.ndarray,
        *,
        action: int,
        joints: np.ndarray | None = None,
    ) -> None:
        """Append one video: ``frames`` (T, H, W, 3) uint8, ``joints`` (T, J, 2) float32."""
        if split not in SPLITS:
            raise KeyvidError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        h, w = self.size
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (h, w, 3):
            raise ValueError(
                f"frames must be (T, {h}, {w}, 3) uint8, got {frames.dtype} {frames.shape}"
            )
        if len(frames) == 0:
            raise KeyvidError(f"video {video_id!r} has no frames; remove it from the source")
        if not 0 <= action < len(self.actions):
            raise ValueError(f"action index {action} outside 0..{len(self.actions) - 1}")
        has_joints = self.joint_names is not None
        if has_joints != (joints is not None):
            raise ValueError("pass joints for every video exactly when joint_names is set")
        if joints is not None and joints.shape != (len(frames), len(self.joint_names), 2):
            raise ValueError(f"joints must be (T, J, 2), got {joints.shape}")

        if str(video_id) in self._ids.setdefault(split, set()):
            raise KeyvidError(f"video id {video_id!r} appears twice in {split}; ids must be unique")
        self._ids[split].add(str(video_id))
        if split not in self._files:
            (self._tmp / split).mkdir()
            frames_file = open(self._tmp / split / "frames.u8", "wb")  # noqa: SIM115 (closed in __exit__)
            joints_file = open(self._tmp / split / "joints.f32", "wb") if has_joints else None  # noqa: SIM115
            self._files[split] = (frames_file, joints_file)
            self._records[split] = []
        records = self._records[split]
        offset = records[-1].offset + records[-1].num_frames if records else 0
        records.append(VideoRecord(str(video_id), int(action), len(frames), offset))
        frames_file, joints_file = self._files[split]
        frames_file.write(np.ascontiguousarray(frames).tobytes())
        if joints_file is not None:
            joints_file.write(np.ascontiguousarray(joints, dtype=np.float32).tobytes())

    def _finish(self) -> None:
        splits = {}
        for split, records in self._records.items():
            (self._tmp / split / "index.json").write_text(
                json.dumps([asdict(r) for r in records], indent=0) + "\n"
            )
            splits[split] = {"videos": len(records), "frames": sum(r.num_frames for r in records)}
        meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "actions": self.actions,
            "height": self.size[0],
            "width": self.size[1],
            "joint_names": self.joint_names,
            "splits": splits,
            "source": self.source,
        }
        (self._tmp / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
        _replace_dir(self._tmp, self.root)


def check_output_dir(root: Path, *, overwrite: bool) -> None:
    """Refuse an output folder that exists and is not empty, unless ``overwrite``."""
    if root.exists() and not root.is_dir():
        raise KeyvidError(f"{root} exists and is not a folder; choose another output path")
    if root.is_dir() and any(root.iterdir()) and not overwrite:
        raise KeyvidError(
            f"{root} exists and is not empty; choose another folder or pass --overwrite"
        )
    parent = root.parent if str(root.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise KeyvidError(f"cannot write in {parent}; choose a writable output folder")


def _replace_dir(src: Path, dst: Path) -> None:
    """Move the finished ``src`` to ``dst``; an old ``dst`` is removed only after the move."""
    old = None
    if dst.exists():
        old = dst.parent / f".{dst.name}.old-{os.getpid()}"
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class PreparedDataset:
    """Read access to one split of a prepared dataset (memory-mapped, zero-copy)."""

    def __init__(self, root: str | Path, split: str = "train") -> None:
        self.root = Path(root)
        self.meta = read_metadata(self.root)
        if split not in self.meta["splits"]:
            have = ", ".join(self.meta["splits"]) or "none"
            raise KeyvidError(f"{self.root} has no {split!r} split (it has: {have})")
        self.split = split
        self.actions: list[str] = self.meta["actions"]
        self.size: tuple[int, int] = (self.meta["height"], self.meta["width"])
        self.joint_names: list[str] | None = self.meta["joint_names"]
        folder = self.root / split
        try:
            raw = json.loads((folder / "index.json").read_text())
            self.videos = [VideoRecord(**r) for r in raw]
        except (OSError, ValueError, TypeError) as e:
            raise KeyvidError(
                f"{folder / 'index.json'} is missing or unreadable ({e}); prepare the dataset again"
            ) from e
        n = _check_index(self.videos, len(self.actions), folder / "index.json")
        h, w = self.size
        self._frames = _memmap(folder / "frames.u8", np.uint8, (n, h, w, 3))
        self._joints = None
        if self.joint_names is not None:
            self._joints = _memmap(folder / "joints.f32", np.float32, (n, len(self.joint_names), 2))

    def __len__(self) -> int:
        return len(self.videos)

    @property
    def has_joints(self) -> bool:
        return self._joints is not None

    @property
    def all_frames(self) -> np.ndarray:
        """Every frame of the split in storage order: a read-only (N, H, W, 3) uint8 map."""
        return self._frames

    @property
    def all_joints(self) -> np.ndarray:
        """Every frame's joints in storage order: (N, J, 2) float32."""
        if self._joints is None:
            raise KeyvidError(f"{self.root} has no ground-truth joints")
        return self._joints

    def frames(self, i: int) -> np.ndarray:
        """Frames of video ``i``: a read-only (T, H, W, 3) uint8 view."""
        v = self.videos[i]
        return self._frames[v.offset : v.offset + v.num_frames]

    def joints(self, i: int) -> np.ndarray:
        """Ground-truth joints of video ``i``: (T, J, 2) float32, normalised (x, y)."""
        if self._joints is None:
            raise KeyvidError(f"{self.root} has no ground-truth joints")
        v = self.videos[i]
        return self._joints[v.offset : v.offset + v.num_frames]

    def keypoint_sets(self) -> list[str]:
        """Names of the pseudo-label sets stored for this split."""
        folder = self.root / self.split / "keypoints"
        return sorted(p.stem for p in folder.glob("*.npy")) if folder.is_dir() else []


def read_metadata(root: str | Path) -> dict:
    """``dataset.json`` of a prepared dataset, checked; a clear error if ROOT is not one."""
    root = Path(root)
    path = root / "dataset.json"
    if not root.is_dir():
        raise KeyvidError(
            f"dataset folder {root} does not exist; create one with `keyvid data synth`"
        )
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeyvidError(
            f"{root} is not a prepared keyvid dataset (no dataset.json); "
            "create one with `keyvid data synth` or `keyvid data prepare`"
        ) from None
    except (OSError, ValueError) as e:
        raise KeyvidError(f"{path} is unreadable ({e}); prepare the dataset again") from e
    if meta.get("format") != FORMAT_NAME or meta.get("version") != FORMAT_VERSION:
        raise KeyvidError(
            f"{path} is not a keyvid dataset of format version {FORMAT_VERSION}; prepare it again"
        )
    return meta


def _check_index(videos: list[VideoRecord], num_actions: int, path: Path) -> int:
    """Refuse an index whose records are not whole, contiguous, in-range rows; returns the
    frame count. Rows are the only thing an index addresses (no paths), and a bad one
    must not read another video's frames or past the end of the file."""
    expected_offset = 0
    for i, v in enumerate(videos):
        fields = (v.action, v.num_frames, v.offset)
        problem = None
        if not isinstance(v.id, str) or not all(
            isinstance(f, int) and not isinstance(f, bool) for f in fields
        ):
            problem = "fields of the wrong type"
        elif not 0 <= v.action < num_actions:
            problem = f"action {v.action} outside 0..{num_actions - 1}"
        elif v.num_frames < 1:
            problem = f"{v.num_frames} frames"
        elif v.offset != expected_offset:
            problem = f"offset {v.offset} where the previous videos end at {expected_offset}"
        if problem is not None:
            raise KeyvidError(
                f"{path}: video {i} has {problem}; the index is corrupt, prepare the dataset again"
            )
        expected_offset += v.num_frames
    return expected_offset


def _memmap(path: Path, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    expected = int(np.prod(shape)) * np.dtype(dtype).itemsize
    size = path.stat().st_size if path.exists() else -1
    if size != expected:
        raise KeyvidError(
            f"{path} holds {size} bytes, expected {expected} for shape {shape}; "
            "the dataset is incomplete or corrupt, prepare it again"
        )
    if expected == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=shape)
