"""How well stage 1 redraws a frame (issue 6, item 5).

On evenly spaced test frame pairs (the same pairs for every model), T translates the
reference frame to the target frame's keypoints; the translation v̂ is compared with
the real target by L1, PSNR and SSIM, and by the distance between the keypoints Q
detects on v̂ and on the target (does the redrawn pose read back as the asked one?).
The same figures for the reference frame itself (a translator that ignores the
keypoints) come alongside. On the synthetic data, the L1 inside the implement's pixels
(bat, club, racket, barbell, bar: thin held parts that vanish first) comes too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from keyvid.data.datasets import FramePairDataset
from keyvid.data.format import PreparedDataset
from keyvid.data.synth import dataset_implement_coverage
from keyvid.losses.reconstruction import ssim
from keyvid.models.stage1 import KeypointTranslator


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image of (B, C, H, W) images in [0, 1]."""
    mse = (pred - target).pow(2).flatten(1).mean(1).clamp(min=1e-10)
    return -10 * torch.log10(mse)


def image_scores(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Mean L1, PSNR (dB) and SSIM of (B, 3, H, W) images against their targets."""
    return {
        "l1": float((pred - target).abs().mean()),
        "psnr": float(psnr(pred, target).mean()),
        "ssim": float(ssim(pred, target).mean()),
    }


def pair_items(dataset: FramePairDataset, pairs: int) -> list[int]:
    """``pairs`` evenly spaced item indices of ``dataset`` (the same for every model)."""
    picks = torch.linspace(0, len(dataset) - 1, min(pairs, len(dataset))).round().long()
    return [int(i) for i in picks]


def frame_pairs(
    data: PreparedDataset, size: int, pairs: int, *, seed: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """``pairs`` evenly spaced (source, target) frame pairs of ``data``: two (N, 3, H, W)."""
    dataset = FramePairDataset(data, size=(size, size), seed=seed)
    items = [dataset[i] for i in pair_items(dataset, pairs)]
    return torch.stack([it["source"] for it in items]), torch.stack([it["target"] for it in items])


def implement_masks(
    data: PreparedDataset, size: int, pairs: int, *, seed: int = 3
) -> torch.Tensor | None:
    """(N, 1, H, W) implement coverage of the targets of :func:`frame_pairs` (zeros where a
    video has none), or None when ``data`` is not synthetic."""
    if data.meta.get("source", {}).get("kind") != "synthetic":
        return None
    dataset = FramePairDataset(data, size=(size, size), seed=seed)
    masks = []
    for item in pair_items(dataset, pairs):
        video, _, target = dataset.frames_of(item)
        coverage = dataset_implement_coverage(data, video)
        frame = torch.zeros(data.size) if coverage is None else torch.from_numpy(coverage[target])
        masks.append(frame)
    stacked = torch.stack(masks)[:, None]  # (N, 1, H', W') at the data's size
    return F.interpolate(stacked, size=(size, size), mode="bilinear", align_corners=False)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean |pred − target| weighted by (N, 1, H, W) ``mask`` (per pixel, over channels)."""
    weight = mask.expand_as(pred)
    return float(((pred - target).abs() * weight).sum() / weight.sum().clamp(min=1e-8))


@torch.no_grad()
def reconstruction_metrics(
    model: KeypointTranslator, data: PreparedDataset, *, pairs: int = 256, batch_size: int = 32
) -> dict[str, dict[str, float]]:
    """{"stage1": scores, "copy_reference": scores} on ``pairs`` test pairs of ``data``.

    Scores: ``l1``, ``psnr``, ``ssim`` and ``keypoint_distance`` (mean |Q(v̂) − Q(target)|
    in keypoint units, [-1, 1] coordinates) and the pair count; on synthetic data also
    ``implement_l1`` (L1 inside the implement's pixels of the targets that show one).
    """
    model.eval()
    source, target = frame_pairs(data, model.config.image_size, pairs)
    outputs, kp_pred, kp_source, kp_target = [], [], [], []
    for lo in range(0, len(source), batch_size):
        out = model(source[lo : lo + batch_size], target[lo : lo + batch_size])
        outputs.append(out.translation.image)
        kp_pred.append(model.detector(out.translation.image))
        kp_source.append(out.source_kp)
        kp_target.append(out.target_kp)
    pred = torch.cat(outputs)  # (N, 3, H, W)
    target_kp = torch.cat(kp_target)  # (N, K, 2)
    n = len(source)
    scores = {
        "stage1": {
            **image_scores(pred, target),
            "keypoint_distance": float((torch.cat(kp_pred) - target_kp).abs().mean()),
            "pairs": n,
        },
        "copy_reference": {
            **image_scores(source, target),
            "keypoint_distance": float((torch.cat(kp_source) - target_kp).abs().mean()),
            "pairs": n,
        },
    }
    masks = implement_masks(data, model.config.image_size, pairs)
    if masks is not None and masks.sum() > 0:
        scores["stage1"]["implement_l1"] = masked_l1(pred, target, masks)
        scores["copy_reference"]["implement_l1"] = masked_l1(source, target, masks)
    return scores
