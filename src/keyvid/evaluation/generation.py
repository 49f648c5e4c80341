"""Generated videos beside real ones and baselines, on the same test videos (issue 6).

Each test video gives one window of ``length`` frames from its start, spread over the
video as stage 2 spreads its training sequences (``sequence_indices``), so the
generated videos and the real windows they come from play at the same rate. From
its first frame every *row* of the report makes videos of that length:

- ``real``: the window itself;
- ``generated``: the model, given the video's action (``samples`` videos);
- ``generated_no_action``: the "w/o a" model (paper Table 2), when given;
- ``copy_first_frame``: a still video (the paper's lower bound);
- ``pseudo_label_keypoints``: T driven by the keypoints Q detects on the real window
  (the motion generator's upper bound: perfect keypoint motion, T's rendering).

Rows are consumed as they are made (``RowStats`` keeps features, not videos), so the
memory used grows only by their features and keypoint sequences (small beside videos);
a few videos are kept as examples. The keypoint sequences (pseudo-labels and generated)
are scored by the motion metrics (``keyvid.metrics.motion_recognition``) with a
classifier trained on ``window_keypoints`` of the training split.

Besides whole-video figures, every generated frame (frames 1..L-1; frame 0 is the input
image in every row) is measured on its own: its gradient energy inside the actor's
region (``keyvid.metrics.sharpness``; each row inside its own keypoints' region), and,
with a classifier, its spatial features for a per-frame Fréchet distance. Those are kept
for every frame, as running moments (``FeatureMoments``): D² numbers per row whatever
the number of frames, so no frame needs to be dropped to bound the memory (450 videos ×
32 frames × several samples would be tens of thousands of feature vectors).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
from tqdm.auto import tqdm

from keyvid.data.datasets import frames_to_tensor
from keyvid.data.format import PreparedDataset
from keyvid.distributed import SINGLE, World, gather_objects
from keyvid.metrics.actions import classify, clip_positions, per_frame_features
from keyvid.metrics.frechet import FeatureMoments
from keyvid.metrics.motion import METRICS, sequence_metric_sums
from keyvid.metrics.sharpness import frame_sharpness
from keyvid.models.classifier import ActionClassifier
from keyvid.models.detector import KeypointDetector
from keyvid.pipeline.generate import Pipeline, prepare_image

ROWS = (
    "real",
    "generated",
    "generated_no_action",
    "copy_first_frame",
    "pseudo_label_keypoints",
)
SAMPLED_ROWS = ("generated", "generated_no_action")  # rows with `samples` videos per test video

# (N, T, 3, H, W) float videos in [0, 1] -> (N, D) features (or logits and features).
FeatureFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class InDomainClassifier:
    """The in-domain evaluator as the report reads videos and frames with it."""

    # (n, L, 3, H, W) videos in [0, 1] -> (n, A) logits and (n, F) penultimate features.
    videos: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    # (N, 3, H, W) frames in [0, 1] -> (N, D) spatial features of each frame alone.
    frames: FeatureFn

    @classmethod
    def of(cls, net: ActionClassifier) -> InDomainClassifier:
        return cls(videos=partial(classify, net), frames=partial(per_frame_features, net))


@dataclass
class RowStats:
    """What the report keeps of one row's videos."""

    labels: list[int] = field(default_factory=list)
    logits: list[torch.Tensor] = field(default_factory=list)  # classifier, (n, A) per call
    features: list[torch.Tensor] = field(default_factory=list)  # classifier, (n, F)
    i3d: list[torch.Tensor] = field(default_factory=list)  # I3D logits, (n, 400)
    keypoint_sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(METRICS, 0.0))
    sharpness: list[torch.Tensor] = field(default_factory=list)  # (n, L-1) frames 1..L-1
    frame_features: FeatureMoments = field(default_factory=FeatureMoments)  # frames 1..L-1
    # Rows with keypoints (generated ones, pseudo-labels): (test video index, action,
    # (n, L, K, 2) keypoint sequences) per test video, for the motion metrics.
    keypoint_sequences: list[tuple[int, int, torch.Tensor]] = field(default_factory=list)
    videos: int = 0

    def cat(self, name: str) -> torch.Tensor | None:
        parts = getattr(self, name)
        return torch.cat(parts) if parts else None

    def sequences(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The row's (N, L, K, 2) keypoint sequences and (N,) actions in test-video order
        (whatever the number of processes that made them), or None when it has none."""
        if not self.keypoint_sequences:
            return None
        parts = sorted(self.keypoint_sequences, key=lambda part: part[0])
        labels = [action for _, action, seqs in parts for _ in range(len(seqs))]
        return torch.cat([seqs for _, _, seqs in parts]), torch.tensor(labels, dtype=torch.long)


def evaluation_windows(data: PreparedDataset, length: int) -> Iterator[tuple[np.ndarray, int]]:
    """Each video's first window: ((length, H, W, 3) uint8 frames, action index)."""
    for i, video in enumerate(data.videos):
        yield np.asarray(data.frames(i)[clip_positions(video.num_frames, length)]), video.action


@torch.inference_mode()
def window_keypoints(
    data: PreparedDataset,
    detector: KeypointDetector,
    *,
    length: int,
    image_size: int,
    max_videos: int | None = None,
    batch_size: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Q's keypoints on the evaluation window of each video (or of ``max_videos`` evenly
    spaced ones): (N, length, K, 2) sequences and (N,) actions.

    Frames are read as ``Pipeline.animate`` reads the test windows (``prepare_image`` at
    the pipeline's ``image_size``), so that these sequences and the pseudo-label row's
    are the same function of the frames; detected ``batch_size`` frames at a time.
    """
    total = len(data.videos)
    chosen = range(total)
    if max_videos is not None and max_videos < total:
        chosen = np.linspace(0, total - 1, max_videos).round().astype(np.int64).tolist()
    was_training = detector.training
    detector.eval()
    device = next(detector.parameters()).device
    frames: list[torch.Tensor] = []  # (1, 3, S, S) each, flushed every batch_size frames
    tracks: list[torch.Tensor] = []  # (b, K, 2) each
    actions: list[int] = []

    def flush() -> None:
        tracks.append(detector(torch.cat(frames).to(device)).float().cpu())
        frames.clear()

    for i in chosen:
        video = data.videos[i]
        window = data.frames(i)[clip_positions(video.num_frames, length)]  # (L, H, W, 3)
        actions.append(video.action)
        for frame in window:
            frames.append(prepare_image(frame, image_size))
            if len(frames) == batch_size:
                flush()
    if frames:
        flush()
    detector.train(was_training)
    if not tracks:
        return torch.zeros(0, length, detector.config.num_keypoints, 2), torch.zeros(0).long()
    track = torch.cat(tracks)  # (N·L, K, 2), video by video
    return track.unflatten(0, (len(actions), length)), torch.tensor(actions)  # (N, L, K, 2)


def row_videos(
    window: np.ndarray,
    action: int,
    *,
    pipe: Pipeline,
    no_action: Pipeline | None,
    samples: int,
    seed: int,
    motion_scale: float | None = None,
    guidance: float | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every row's videos for one test window, and the keypoint sequences behind them.

    Returns ({row: (n, L, H, W, 3) uint8}, {row: (n, L, K, 2)}); keypoints exist for the
    generated rows and the pseudo-label row (whose are Q's detections on the window).
    """
    first = window[0]
    frames = len(window) - 1
    videos = {"real": window[None], "copy_first_frame": np.repeat(window[None, :1], len(window), 1)}
    keypoints = {}
    driven = pipe.animate(first, window)  # k_t = Q(window_t): relative motion from itself
    videos["pseudo_label_keypoints"], keypoints["pseudo_label_keypoints"] = (
        driven.frames,
        driven.keypoints,
    )
    act = action if pipe.uses_action else None
    sampling = {"frames": frames, "samples": samples, "seed": seed, "motion_scale": motion_scale}
    generated = pipe(first, act, **sampling, guidance=guidance)  # the w/o-a model has none
    videos["generated"], keypoints["generated"] = generated.frames, generated.keypoints
    if no_action is not None:
        result = no_action(first, None, **sampling)
        videos["generated_no_action"], keypoints["generated_no_action"] = (
            result.frames,
            result.keypoints,
        )
    return videos, keypoints


def collect_rows(
    data: PreparedDataset,
    *,
    pipe: Pipeline,
    no_action: Pipeline | None = None,
    classifier: InDomainClassifier | None = None,
    i3d: FeatureFn | None = None,
    length: int = 33,
    samples: int = 1,
    seed: int = 0,
    motion_scale: float | None = None,
    guidance: float | None = None,
    max_videos: int | None = None,
    examples_per_action: int = 1,
    progress: bool = True,
    world: World = SINGLE,
) -> tuple[dict[str, RowStats], list[dict]]:
    """Make every row's videos for each test video and keep their statistics.

    ``classifier`` gives (logits, features) of (n, L, 3, H, W) videos and features of
    their frames; ``i3d`` maps videos to I3D logits. Returns the per-row statistics and
    example cells: for the first ``examples_per_action`` test videos of each action,
    {"action", row: video}.

    Under torchrun, rank r of N makes the videos r, r + N, ... (each seeded by its
    index, so the figures do not depend on N) and every rank returns the merged result.
    """
    stats = {row: RowStats() for row in ROWS}
    examples: list[dict] = []
    shown: dict[int, int] = {}
    total = len(data.videos) if max_videos is None else min(max_videos, len(data.videos))
    mine = len(range(world.rank, total, world.size))
    bar = tqdm(total=mine, desc="evaluate", unit="video", disable=not progress or not world.is_main)
    for index, (window, action) in enumerate(evaluation_windows(data, length)):
        if index >= total:
            break
        if index % world.size != world.rank:
            continue
        videos, keypoints = row_videos(
            window,
            action,
            pipe=pipe,
            no_action=no_action,
            samples=samples,
            seed=seed + index,
            motion_scale=motion_scale,
            guidance=guidance,
        )
        track = torch.from_numpy(keypoints["pseudo_label_keypoints"][0])  # (L, K, 2)
        regions = region_keypoints(keypoints, track)
        for row, batch in videos.items():
            row_stats = stats[row]
            x = torch.stack([frames_to_tensor(v) for v in batch])  # (n, L, 3, H, W)
            row_stats.videos += len(x)
            row_stats.labels += [action] * len(x)
            row_stats.sharpness.append(frame_sharpness(x[:, 1:], regions[row][:, 1:]))
            if classifier is not None:
                logits, feats = classifier.videos(x)
                row_stats.logits.append(logits)
                row_stats.features.append(feats)
                generated_frames = x[:, 1:].flatten(0, 1)  # (n·(L-1), 3, H, W)
                row_stats.frame_features.add(classifier.frames(generated_frames))
            if i3d is not None:
                row_stats.i3d.append(i3d(x))
            if row in keypoints:  # (n, L, K, 2), frame 0 included
                sequences = torch.from_numpy(np.ascontiguousarray(keypoints[row])).float()
                row_stats.keypoint_sequences.append((index, action, sequences))
            if row in SAMPLED_ROWS:
                draws = torch.from_numpy(keypoints[row][:, None, 1:])  # (S, 1, L-1, K, 2)
                sums = sequence_metric_sums(draws, track[None, 1:], track[None, 0])
                for k, v in sums.items():
                    row_stats.keypoint_sums[k] += v
        if shown.get(action, 0) < examples_per_action:
            shown[action] = shown.get(action, 0) + 1
            examples.append(
                {"index": index, "action": action, **{row: v[0] for row, v in videos.items()}}
            )
        bar.update(1)
    bar.close()
    if world.distributed:
        stats, examples = _merge(gather_objects(world, (stats, examples)), examples_per_action)
    for example in examples:
        example.pop("index")
    return {row: s for row, s in stats.items() if s.videos}, examples


def region_keypoints(
    keypoints: dict[str, np.ndarray], track: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Each row's (n, L, K, 2) keypoints, around which its frames' sharpness is measured.

    The generated and pseudo-label rows have their own (frame 0 included); the real
    window has the track Q detects on it ((L, K, 2)); the still video its first pose.
    """
    still = track[None, :1].expand(1, len(track), -1, -1)  # (1, 1, K, 2) -> (1, L, K, 2)
    own = {row: torch.from_numpy(k) for row, k in keypoints.items()}
    return {**own, "real": track[None], "copy_first_frame": still}


def _merge(parts: list, examples_per_action: int) -> tuple[dict[str, RowStats], list[dict]]:
    """One result from every rank's (stats, examples): rows concatenated, sums added,
    and the examples a single process would have picked (the first test videos)."""
    stats = {row: RowStats() for row in ROWS}
    for rank_stats, _ in parts:
        for row, part in rank_stats.items():
            merged = stats[row]
            merged.labels += part.labels
            merged.logits += part.logits
            merged.features += part.features
            merged.i3d += part.i3d
            merged.videos += part.videos
            merged.sharpness += part.sharpness
            merged.frame_features.merge(part.frame_features)
            merged.keypoint_sequences += part.keypoint_sequences
            for k, v in part.keypoint_sums.items():
                merged.keypoint_sums[k] += v
    examples, shown = [], {}
    for example in sorted((e for _, rank_examples in parts for e in rank_examples),
                          key=lambda e: e["index"]):  # fmt: skip
        if shown.get(example["action"], 0) < examples_per_action:
            shown[example["action"]] = shown.get(example["action"], 0) + 1
            examples.append(example)
    return stats, examples
