"""Renderers side by side on a development split: stage-1 reconstruction of test pairs.

For each stage-1 model (a shipped name, a run folder or a checkpoint), on the same
evenly spaced test pairs of ``--data`` (the development seed 7 or validation seed 8;
never the untouched test seed 41): L1, PSNR, SSIM, the L1 inside the implement's pixels
(synthetic data), and the same for copying the reference. Also writes a PNG with, per
pair, the reference, the target and every model's translation, to look at beside the
numbers.

    python -m benchmarks.renderer_dev --data /work/data/dev7 --model synth \
        --model runs/warp/checkpoints/step_00002000 --name renderer_dev
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import RESULTS_DIR, print_table, write_result
from keyvid.data.format import PreparedDataset
from keyvid.metrics.reconstruction import frame_pairs, reconstruction_metrics
from keyvid.models.load import load_stage1
from keyvid.training.harness.sample_grids import to_images
from keyvid.viz import image_grid, upscale

COLUMNS = ["model", "kind", "ssim", "l1", "psnr", "implement_l1", "keypoint_distance"]


def translations(model, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) translations of ``source`` to ``target``'s keypoints."""
    with torch.no_grad():
        return model.eval()(source, target).translation.image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="prepared dataset (its test split)")
    parser.add_argument("--model", action="append", required=True, help="stage-1 model")
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--show", type=int, default=8, help="pairs in the PNG")
    parser.add_argument("--name", default="renderer_dev")
    args = parser.parse_args()
    torch.manual_seed(0)
    test = PreparedDataset(args.data, "test")
    rows, shown = [], None
    for path in args.model:
        model, _ = load_stage1(path)
        scores = reconstruction_metrics(model, test, pairs=args.pairs)
        if not rows:
            rows.append({"model": "copy reference", **scores["copy_reference"]})
        kind = model.config.translator.kind
        rows.append({"model": path, "kind": kind, **scores["stage1"]})
        size = model.config.image_size
        source, target = frame_pairs(test, size, args.pairs)
        picks = torch.linspace(0, len(source) - 1, args.show).round().long()
        if shown is None:
            shown = [source[picks], target[picks]]
        shown.append(translations(model, source[picks], target[picks]))
    print_table(rows, COLUMNS)
    result = write_result(args.name, rows, data=Path(args.data).name, pairs=args.pairs)
    scale = max(1, 128 // shown[0].shape[-1])
    cells = [
        upscale(im, scale) for group in zip(*map(to_images, shown), strict=True) for im in group
    ]
    grid = image_grid(cells, ncols=len(shown))  # per pair: reference, target, each model
    png = RESULTS_DIR / f"{args.name}.png"
    from PIL import Image

    Image.fromarray(np.asarray(grid)).save(png)
    print(f"wrote {png} (columns: reference, target, {', '.join(args.model)}); {result.name}")


if __name__ == "__main__":
    main()
