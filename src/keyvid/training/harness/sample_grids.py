"""Image grids that show how training is going (the paper's Figure 8 layout)."""

from __future__ import annotations

import numpy as np
import torch

from keyvid.models.stage1 import KeypointTranslator
from keyvid.viz import draw_keypoints, image_grid, upscale


def to_images(x: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) in [0, 1] -> (B, H, W, 3) uint8; one channel is shown grey."""
    x = x.detach().float().clamp(0, 1).cpu()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


@torch.inference_mode()
def stage1_sample_grid(model: KeypointTranslator, batch: dict[str, torch.Tensor]) -> np.ndarray:
    """One row per pair: reference + keypoints, target + keypoints, mask, s, v̂."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    source, target = batch["source"].to(device), batch["target"].to(device)
    out = model(source, target)
    model.train(was_training)
    scale = max(1, 128 // source.shape[-1])  # show small images at ≥ 128 px
    src_kp, tgt_kp = out.source_kp.cpu().numpy(), out.target_kp.cpu().numpy()
    tr = out.translation
    mask = tr.mask if tr.mask is not None else torch.zeros_like(source[:, :1])
    columns = [
        [
            draw_keypoints(upscale(im, scale), kp)
            for im, kp in zip(to_images(source), src_kp, strict=True)
        ],
        [
            draw_keypoints(upscale(im, scale), kp)
            for im, kp in zip(to_images(target), tgt_kp, strict=True)
        ],
        [upscale(im, scale) for im in to_images(mask)],
        [upscale(im, scale) for im in to_images(tr.synthesized)],
        [upscale(im, scale) for im in to_images(tr.image)],
    ]
    rows = [img for row in zip(*columns, strict=True) for img in row]
    return image_grid(rows, ncols=len(columns))


def keypoint_strip(sequence: np.ndarray, *, size: int = 96, every: int = 4) -> list[np.ndarray]:
    """(T, K, 2) keypoints -> every ``every``-th frame drawn on a grey ``size``² canvas."""
    canvas = np.full((size, size, 3), 235, dtype=np.uint8)
    return [draw_keypoints(canvas, kp) for kp in sequence[::every]]


def stage2_sample_grid(real: np.ndarray, generated: np.ndarray, every: int = 4) -> np.ndarray:
    """Rows of keypoint sequences over time: each real (B, T, K, 2) above its generated one."""
    rows = []
    for r, g in zip(real, generated, strict=True):
        rows += [keypoint_strip(r, every=every), keypoint_strip(g, every=every)]
    return image_grid([im for row in rows for im in row], ncols=len(rows[0]))
