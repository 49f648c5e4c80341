"""How well stage 1 redraws a frame: translate a test frame to another frame's keypoints.

For each checkpoint: mean L1 and SSIM between the translation v̂ and the real target on
evenly spaced test pairs of the data (the same pairs for every model), beside copying the
reference frame (what a translator that ignores the keypoints achieves).

    python -m benchmarks.stage1_frames --data data/synth --model shipped=synth \
        --model recipe=runs/stage1-synth
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.common import print_table, write_result
from keyvid.data.datasets import FramePairDataset
from keyvid.data.format import PreparedDataset
from keyvid.losses.reconstruction import ssim
from keyvid.pipeline.loading import load_stage1


def scores(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    return {"l1": float((pred - target).abs().mean()), "ssim": float(ssim(pred, target).mean())}


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="prepared dataset with a test split")
    parser.add_argument("--model", action="append", required=True, metavar="LABEL=CHECKPOINT")
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--name", default="stage1_frames", help="result file name")
    args = parser.parse_args()

    rows = []
    for spec in args.model:
        label, _, path = spec.partition("=")
        model, ckpt = load_stage1(path)
        size = (model.config.image_size,) * 2
        data = FramePairDataset(PreparedDataset(args.data, "test"), size=size, seed=3)
        picks = torch.linspace(0, len(data) - 1, args.pairs).round().long().tolist()
        items = [data[i] for i in picks]
        source = torch.stack([it["source"] for it in items])  # (N, 3, H, W)
        target = torch.stack([it["target"] for it in items])
        out = torch.cat([
            model(source[i : i + 32], target[i : i + 32]).translation.image
            for i in range(0, len(source), 32)
        ])  # fmt: skip
        rows.append({"model": label, "checkpoint": str(ckpt.path), **scores(out, target)})
    rows.append({"model": "copy the reference", "checkpoint": "", **scores(source, target)})
    print_table(rows, ["model", "l1", "ssim"])
    write_result(args.name, rows, data=args.data, pairs=args.pairs)


if __name__ == "__main__":
    main()
