"""Inference speed: load + generate a video from one image, as `keyvid predict` does.

Measures, on this machine's CPU threads:
- load: `Pipeline.from_pretrained("synth")` (read and build the networks);
- generate: one call for 32 frames, 1 and 4 samples, at 64² (the shipped synth
  model) and 128² (the same architecture at the paper's resolution, random
  weights: speed does not depend on the weights); and the same with the warping
  translator (``translator.kind: warp``, random weights);
- scaling: 16 / 32 / 64 / 128 frames at 64², one sample: cost must grow linearly.
Frames/s counts generated frames (samples × frames) per second of the call.

    python benchmarks/predict.py [--repeats 5] [--threads 2] [--checkpoint synth] [--name predict]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.common import best_of, print_table, write_result
from keyvid.config import from_dict, to_dict
from keyvid.models.motion import MotionGenerator
from keyvid.models.stage1 import KeypointTranslator
from keyvid.models.translator import ANALOGY_ONLY_SWITCHES
from keyvid.pipeline.demo import demo_actors
from keyvid.pipeline.generate import Pipeline
from keyvid.training.config import Stage1Config


def pipeline_at(size: int, base: Pipeline, kind: str = "analogy") -> Pipeline:
    """The shipped architecture at another resolution or translator kind (random weights)."""
    cfg = to_dict(base.stage1.config)
    if size == base.image_size and kind == cfg["translator"]["kind"]:
        return base
    cfg["image_size"] = size
    cfg["translator"]["feature_size"] = size // 4  # the synth ratio (64 -> 16)
    if kind == "warp":
        cfg["translator"].update(kind="warp", **dict.fromkeys(ANALOGY_ONLY_SWITCHES, False))
    model = KeypointTranslator(from_dict(Stage1Config, {"model": cfg}).model)
    return Pipeline(model, MotionGenerator(base.motion.config), base.actions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--checkpoint", default="synth", help="pipeline to time")
    parser.add_argument("--name", default="predict", help="result file name")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    t0 = time.perf_counter()
    pipe = Pipeline.from_pretrained(args.checkpoint)
    load_s = time.perf_counter() - t0
    image = demo_actors(1)[0]
    rows = [{"case": f"load {args.checkpoint}", "seconds": load_s}]

    for kind, size in (("analogy", 64), ("analogy", 128), ("warp", 64), ("warp", 128)):
        p = pipeline_at(size, pipe, kind)
        label = "" if kind == "analogy" else " warp"
        for samples in (1, 4):
            s = best_of(lambda p=p, n=samples: p(image, 0, frames=32, samples=n), args.repeats)
            rows.append(
                {
                    "case": f"{size}px{label} 32 frames x{samples}",
                    "seconds": s,
                    "frames_per_s": 32 * samples / s,
                }
            )
    scaling = []
    for frames in (16, 32, 64, 128):
        s = best_of(lambda f=frames: pipe(image, 0, frames=f), args.repeats)
        scaling.append(s)
        rows.append({"case": f"64px {frames} frames x1", "seconds": s, "frames_per_s": frames / s})
    # Linear growth: seconds per frame at 128 frames vs at 16 (1.0 = exactly linear;
    # below 1 the fixed cost of detecting and encoding the image is spread thinner).
    per_frame_ratio = (scaling[-1] / 128) / (scaling[0] / 16)
    print_table(rows, ["case", "seconds", "frames_per_s"])
    print(f"seconds per frame at 128 frames / at 16 frames: {per_frame_ratio:.3f}")
    write_result(
        args.name,
        rows,
        per_frame_ratio_128_vs_16=per_frame_ratio,
        note="frames_per_s = generated frames (samples x frames) per second of one call; "
        "128px uses the synth architecture with random weights",
        image_shape=list(np.asarray(image).shape),
    )


if __name__ == "__main__":
    main()
