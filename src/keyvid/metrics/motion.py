"""Quality of generated keypoint sequences against pseudo-labels (issue 5 targets).

For each test video, M samples ``samples`` futures from the video's first
keypoints (and action). Reported, in keypoint coordinate units ([-1, 1], so
0.01 is 0.5 % of the image size):

- ``l1``: mean |sampled - pseudo-label| over samples, frames, keypoints;
- ``l1_best``: the same for the closest of the samples to each video (best of N,
  the usual figure for stochastic prediction: one future is recorded, many are valid);
- ``diversity``: mean |sample_i - sample_j| over pairs of samples of one video;
- ``motion`` and ``motion_data``: mean |k_t - k0| of the samples and of the
  pseudo-labels: how far keypoints travel (a generator that regresses to the mean
  moves less than the data).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch

from keyvid.data.datasets import SequenceDataset
from keyvid.data.format import PreparedDataset
from keyvid.models.motion import MotionGenerator

METRICS = ("l1", "l1_best", "diversity", "motion", "motion_data")


def sequence_metric_sums(
    draws: torch.Tensor, truth: torch.Tensor, k0: torch.Tensor
) -> dict[str, float]:
    """Each metric summed over the B videos of a batch (divide by the video count).

    draws: (S, B, T, K, 2) samples; truth: (B, T, K, 2) pseudo-labels; k0: (B, K, 2).
    With one sample, ``diversity`` is 0 (there is no pair).
    """
    samples = draws.shape[0]
    per_draw = (draws - truth).abs().mean(dim=(2, 3, 4))  # (S, B)
    pairs = [
        (draws[i] - draws[j]).abs().mean(dim=(1, 2, 3))
        for i, j in itertools.combinations(range(samples), 2)
    ]  # each (B,)
    diversity = float(torch.stack(pairs).mean(0).sum()) if pairs else 0.0
    return {
        "l1": float(per_draw.mean(0).sum()),
        "l1_best": float(per_draw.min(0).values.sum()),
        "diversity": diversity,
        "motion": float((draws - k0[None, :, None]).abs().mean(dim=(0, 2, 3, 4)).sum()),
        "motion_data": float((truth - k0[:, None]).abs().mean(dim=(1, 2, 3)).sum()),
    }


def _sampled_batches(
    generator: MotionGenerator,
    dataset: SequenceDataset,
    *,
    samples: int,
    seed: int,
    batch_size: int,
    scale: float | None = None,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Per batch of ``dataset``: k0 (B, K, 2), pseudo-labels (B, T, K, 2), actions (B,) and
    ``samples`` draws (S, B, T, K, 2) from k0, in eval mode with a generator of its own."""
    was_training = generator.training
    generator.eval()
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    try:
        for lo in range(0, len(dataset), batch_size):
            items = [dataset[i] for i in range(lo, min(lo + batch_size, len(dataset)))]
            seq = torch.stack([it["keypoints"] for it in items]).to(device)  # (B, T+1, K, 2)
            action = torch.stack([it["action"] for it in items]).to(device)
            k0, truth = seq[:, 0], seq[:, 1:]
            draws = torch.stack(
                [
                    generator.sample(k0, action, truth.shape[1], rng, scale=scale)
                    for _ in range(samples)
                ]
            )  # (S, B, T, K, 2)
            yield k0, truth, action, draws
    finally:
        generator.train(was_training)


@torch.no_grad()
def motion_metrics(
    generator: MotionGenerator,
    dataset: SequenceDataset,
    *,
    samples: int = 4,
    seed: int = 0,
    batch_size: int = 64,
) -> dict[str, float]:
    """Sampled-vs-pseudo-label L1 and diversity over ``dataset`` (first frames of each video)."""
    if samples < 2:
        raise ValueError("diversity needs at least 2 samples")
    totals = dict.fromkeys(METRICS, 0.0)
    count = 0
    batches = _sampled_batches(
        generator, dataset, samples=samples, seed=seed, batch_size=batch_size
    )
    for k0, truth, _, draws in batches:
        for k, v in sequence_metric_sums(draws, truth, k0).items():
            totals[k] += v
        count += len(k0)
    return {k: v / max(count, 1) for k, v in totals.items()}


TRAVEL_BOUNDS = (0.5, 2.0)  # a generator that barely moves yet is not blown up into noise


def start_sequences(data: PreparedDataset, keypoints: str, length: int) -> SequenceDataset:
    """Each video's pseudo-label sequence from its first frame (``length`` frames at the
    training stride), unaugmented: what evaluation reads, and ``travel_scales``' reference."""
    return SequenceDataset(
        data, length=length, keypoints=keypoints, load_frames=False, random_start=False
    )


@torch.no_grad()
def travel_scales(
    generator: MotionGenerator,
    dataset: SequenceDataset,
    *,
    samples: int = 4,
    seed: int = 0,
    batch_size: int = 256,
    bounds: tuple[float, float] = TRAVEL_BOUNDS,
) -> torch.Tensor:
    """Per action, mean |k_t - k0| of the pseudo-labels over that of raw samples.

    ``dataset`` is the training split's sequences (from each video's start). The
    result, clamped to ``bounds``, is what ``MotionGenerator.travel_scale`` holds: (A,)
    with the action condition, (1,) without; an action with no video keeps 1. It uses
    its own random generator, so calibrating in the middle of training changes nothing
    else.
    """
    groups = generator.travel_scale.numel()
    data_travel = torch.zeros(groups, dtype=torch.float64)
    sample_travel = torch.zeros(groups, dtype=torch.float64)
    count = torch.zeros(groups, dtype=torch.float64)
    batches = _sampled_batches(
        generator, dataset, samples=samples, seed=seed, batch_size=batch_size, scale=1.0
    )  # raw samples
    for k0, truth, action, draws in batches:
        group = action.cpu() if groups > 1 else torch.zeros(len(k0), dtype=torch.long)
        data_travel.index_add_(0, group, (truth - k0[:, None]).abs().mean((1, 2, 3)).double().cpu())
        moved = (draws - k0[None, :, None]).abs().mean((0, 2, 3, 4))  # (B,)
        sample_travel.index_add_(0, group, moved.double().cpu())
        count.index_add_(0, group, torch.ones(len(k0), dtype=torch.float64))
    seen = count > 0
    ratio = torch.ones(groups, dtype=torch.float64)
    ratio[seen] = data_travel[seen] / sample_travel[seen]  # inf for still samples: clamped
    return ratio.clamp(*bounds).float()
