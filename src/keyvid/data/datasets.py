"""PyTorch datasets over a prepared dataset: frame pairs (stage 1), sequences (stage 2).

Randomness (which frames, which augmentation) comes from a generator seeded by
``(seed, epoch, index)``, not from global state: a sample is the same whatever
the number of DataLoader workers, and a resumed run sees exactly the samples it
would have seen. Call ``set_epoch`` at the start of each epoch, as with
``DistributedSampler``; or pass indices beyond ``len(dataset)`` (as
``InfiniteSampler`` does): ``index % len`` is the item and the whole index seeds
its randomness.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from keyvid.data.augment import AugmentConfig, augment, sample_params
from keyvid.data.format import PreparedDataset
from keyvid.errors import KeyvidError


def frames_to_tensor(frames: np.ndarray, size: tuple[int, int] | None = None) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, H', W') float32 in [0, 1], resized if ``size`` differs."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        x = x.clamp(0.0, 1.0)
    return x


class _SeededDataset(Dataset):
    """Shared plumbing: the prepared split, the epoch and a per-sample generator."""

    def __init__(
        self,
        data: PreparedDataset | str | Path,
        *,
        split: str = "train",
        augment: AugmentConfig | None = None,
        size: tuple[int, int] | None = None,
        seed: int = 0,
    ) -> None:
        self.data = data if isinstance(data, PreparedDataset) else PreparedDataset(data, split)
        self.augment = augment
        self.size = tuple(size) if size is not None else self.data.size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def _augment(self, rng, frames, points):
        if self.augment is None:
            return frames, points
        return augment(sample_params(self.augment, rng), frames, points)


class FramePairDataset(_SeededDataset):
    """Stage 1 samples: a reference frame and a target frame of the same video.

    Item ``i`` uses frame ``i`` of the split (in storage order) as the reference,
    so one epoch shows every frame once as a reference; the target is another
    frame of the same video drawn at random. Both get the same augmentation.
    Keys: ``source``, ``target`` (3, H, W) float in [0, 1]; ``action``; and
    ``source_joints``, ``target_joints`` (J, 2) when the dataset has joints
    (for evaluation; training never reads them).
    """

    def __init__(self, data, **kwargs) -> None:
        super().__init__(data, **kwargs)
        self._starts = np.array([v.offset for v in self.data.videos], dtype=np.int64)
        self._num_frames = sum(v.num_frames for v in self.data.videos)
        if any(v.num_frames < 2 for v in self.data.videos):
            raise KeyvidError(
                f"{self.data.root}: frame pairs need videos of at least 2 frames; "
                "remove single-frame videos from the source"
            )

    def __len__(self) -> int:
        return self._num_frames

    def frames_of(self, index: int) -> tuple[int, int, int]:
        """(video index, reference frame, target frame) of item ``index``."""
        return self._pick(index, self.rng(index))

    def _pick(self, index: int, rng: np.random.Generator) -> tuple[int, int, int]:
        index %= len(self)
        vi = int(np.searchsorted(self._starts, index, side="right") - 1)
        video = self.data.videos[vi]
        src = index - video.offset
        # Any other frame of the video; skipping `src` keeps pairs informative.
        tgt = (src + 1 + int(rng.integers(video.num_frames - 1))) % video.num_frames
        return vi, src, tgt

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = self.rng(index)
        vi, src, tgt = self._pick(index, rng)
        video = self.data.videos[vi]
        frames = frames_to_tensor(self.data.frames(vi)[[src, tgt]], self.size)  # (2, 3, H, W)
        points = (
            [torch.from_numpy(self.data.joints(vi)[[src, tgt]].copy())]
            if self.data.has_joints
            else []
        )
        frames, points = self._augment(rng, frames, points)
        sample = {"source": frames[0], "target": frames[1], "action": torch.tensor(video.action)}
        if points:
            sample["source_joints"], sample["target_joints"] = points[0][0], points[0][1]
        return sample


def sequence_indices(num_frames: int, length: int, rng: np.random.Generator | None) -> np.ndarray:
    """Float frame positions of a ``length``-frame sequence spread over a video.

    As in the authors' code: stride ⌊num_frames / length⌋ from a random start
    (the first frames when ``rng`` is None); a video shorter than ``length`` is
    stretched over ``length`` evenly spaced positions (fractional, interpolated).
    """
    stride = num_frames // length
    if stride == 0:
        return np.linspace(0.0, num_frames - 1, length)
    span = stride * (length - 1) + 1
    start = int(rng.integers(num_frames - span + 1)) if rng is not None else 0
    return (start + stride * np.arange(length)).astype(np.float64)


def interpolate_rows(array: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``array`` (T, ...) at fractional row ``positions``."""
    lo = np.floor(positions).astype(np.int64)
    hi = np.minimum(lo + 1, len(array) - 1)
    w = (positions - lo).reshape(-1, *([1] * (array.ndim - 1))).astype(np.float32)
    return array[lo] * (1 - w) + array[hi] * w


class SequenceDataset(_SeededDataset):
    """Stage 2 samples: ``length`` frames spread over a video, with its action label.

    ``keypoints`` names a pseudo-label set stored with the dataset
    (``<split>/keypoints/<name>.npy``, written by stage-1 extraction); with
    ``load_frames=False`` no image is read, which is all stage 2 needs.
    Keys: ``action``; ``frames`` (T, 3, H, W); ``joints`` (T, J, 2); ``keypoints`` (T, K, 2).
    """

    def __init__(
        self,
        data,
        *,
        length: int = 33,
        keypoints: str | None = None,
        load_frames: bool = True,
        random_start: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(data, **kwargs)
        self.length = length
        self.load_frames = load_frames
        self.random_start = random_start
        self.keypoints = None
        if keypoints is not None:
            path = self.data.root / self.data.split / "keypoints" / f"{keypoints}.npy"
            if not path.exists():
                have = ", ".join(self.data.keypoint_sets()) or "none"
                raise KeyvidError(
                    f"no pseudo-labels named {keypoints!r} in {self.data.root} "
                    f"(available: {have}); "
                    "run `keyvid extract-keypoints` first"
                )
            self.keypoints = np.load(path, mmap_mode="r")

    def __len__(self) -> int:
        return len(self.data.videos)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = self.rng(index)
        index %= len(self)
        video = self.data.videos[index]
        pos = sequence_indices(video.num_frames, self.length, rng if self.random_start else None)
        rows = slice(video.offset, video.offset + video.num_frames)
        point_sets = {}
        if self.data.has_joints:
            point_sets["joints"] = interpolate_rows(np.asarray(self.data.joints(index)), pos)
        if self.keypoints is not None:
            point_sets["keypoints"] = interpolate_rows(np.asarray(self.keypoints[rows]), pos)
        frames = None
        if self.load_frames:
            nearest = np.rint(pos).astype(np.int64)  # frames are not blended
            frames = frames_to_tensor(self.data.frames(index)[nearest], self.size)
        points = [torch.from_numpy(p) for p in point_sets.values()]
        frames, points = self._augment(rng, frames, points)
        sample = {"action": torch.tensor(video.action)}
        if frames is not None:
            sample["frames"] = frames
        sample.update(zip(point_sets, points, strict=True))
        return sample
