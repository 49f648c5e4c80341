"""How well stage 1 redraws a frame (issue 6, item 5).

On evenly spaced test frame pairs (the same pairs for every model), T translates the
reference frame to the target frame's keypoints; the translation v̂ is compared with
the real target by L1, PSNR and SSIM, and by the distance between the keypoints Q
detects on v̂ and on the target (does the redrawn pose read back as the asked one?).
The same figures for the reference frame itself (a translator that ignores the
keypoints) come alongside.
"""

from __future__ import annotations

import torch

from keyvid.data.datasets import FramePairDataset
from keyvid.data.format import PreparedDataset
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


def frame_pairs(
    data: PreparedDataset, size: int, pairs: int, *, seed: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """``pairs`` evenly spaced (source, target) frame pairs of ``data``: two (N, 3, H, W)."""
    dataset = FramePairDataset(data, size=(size, size), seed=seed)
    picks = torch.linspace(0, len(dataset) - 1, min(pairs, len(dataset))).round().long()
    items = [dataset[int(i)] for i in picks]
    return torch.stack([it["source"] for it in items]), torch.stack([it["target"] for it in items])


@torch.no_grad()
def reconstruction_metrics(
    model: KeypointTranslator, data: PreparedDataset, *, pairs: int = 256, batch_size: int = 32
) -> dict[str, dict[str, float]]:
    """{"stage1": scores, "copy_reference": scores} on ``pairs`` test pairs of ``data``.

    Scores: ``l1``, ``psnr``, ``ssim`` and ``keypoint_distance`` (mean |Q(v̂) − Q(target)|
    in keypoint units, [-1, 1] coordinates) and the pair count.
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
    return {
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
