"""How far generated keypoints should move: action accuracy of generated videos per motion scale.

For each setting, every test video's first frame -> a 33-frame generated video (the
shipped model, 1 sample, seeded by the video's index as in `keyvid evaluate`), read by
the in-domain classifier. Settings: raw samples (scale 1), single factors for every
action, and the model's own per-action travel calibration. Run it on actors no
reported figure uses, to choose; the test figures come from `benchmarks.evaluate_synth`.

    keyvid data synth data/synth-val8 --train 9 --test 180 --seed 8
    python -m benchmarks.travel_calibration --data data/synth-val8
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.common import print_table, write_result
from keyvid.data.datasets import frames_to_tensor
from keyvid.data.format import PreparedDataset
from keyvid.evaluation.generation import evaluation_windows
from keyvid.metrics.actions import accuracy, classify, per_class_accuracy
from keyvid.models.load import load_classifier
from keyvid.pipeline.generate import Pipeline


def generated_accuracy(
    pipe: Pipeline, classifier, data: PreparedDataset, motion_scale: float | None
) -> tuple[float, list[float]]:
    length = pipe.motion.config.length + 1
    videos, labels = [], []
    for index, (window, action) in enumerate(evaluation_windows(data, length)):
        result = pipe(window[0], action, frames=length - 1, seed=index, motion_scale=motion_scale)
        videos.append(frames_to_tensor(result.frames[0]))  # (L, 3, H, W)
        labels.append(action)
    logits, _ = classify(classifier, videos)
    target = torch.tensor(labels)
    return accuracy(logits, target), per_class_accuracy(logits, target, len(data.actions))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="prepared synthetic dataset (test split)")
    parser.add_argument("--checkpoint", default="synth")
    parser.add_argument("--classifier", default="synth-classifier")
    parser.add_argument("--scales", default="1,1.3,1.6,2", help="single factors to try")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pipe = Pipeline.from_pretrained(args.checkpoint)
    classifier, _ = load_classifier(args.classifier)
    data = PreparedDataset(args.data, "test")
    settings = [(f"x{s}", float(s)) for s in args.scales.split(",")] + [("calibrated", None)]
    rows = []
    for name, scale in settings:
        start = time.time()
        acc, per_class = generated_accuracy(pipe, classifier, data, scale)
        row = {
            "motion scale": name,
            "accuracy": round(acc, 4),
            "seconds": round(time.time() - start),
        }
        row |= {action: round(a, 2) for action, a in zip(data.actions, per_class, strict=True)}
        rows.append(row)
    print_table(rows, ["motion scale", "accuracy", *data.actions, "seconds"])
    factors = [round(float(f), 3) for f in pipe.motion.travel_scale]
    write_result(
        "travel_calibration",
        rows,
        data=args.data,
        videos=len(data.videos),
        checkpoint=args.checkpoint,
        factors=dict(zip(pipe.actions, factors, strict=True)),
    )


if __name__ == "__main__":
    main()
