"""How well stage 1 redraws a frame: translate a test frame to another frame's keypoints.

For each checkpoint: mean L1, PSNR and SSIM between the translation v̂ and the real target on
evenly spaced test pairs of the data (the same pairs for every model), beside copying the
reference frame (what a translator that ignores the keypoints achieves).

    python -m benchmarks.stage1_frames --data data/synth --model shipped=synth \
        --model recipe=runs/stage1-synth
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.common import print_table, write_result
from keyvid.data.format import PreparedDataset
from keyvid.metrics.reconstruction import reconstruction_metrics
from keyvid.models.load import load_stage1


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
        scores = reconstruction_metrics(model, PreparedDataset(args.data, "test"), pairs=args.pairs)
        rows.append({"model": label, "checkpoint": str(ckpt.path), **scores["stage1"]})
    rows.append({"model": "copy the reference", "checkpoint": "", **scores["copy_reference"]})
    print_table(rows, ["model", "l1", "psnr", "ssim", "keypoint_distance"])
    write_result(args.name, rows, data=args.data, pairs=args.pairs)


if __name__ == "__main__":
    main()
