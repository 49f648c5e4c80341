"""The cVAE against the diffusion motion generator (issue 23), on one split.

For each setting, every test video's first frame -> generated videos (1 sample seeded by
the video's index for the accuracy, as in `keyvid evaluate`; a second seed for diversity),
read by the in-domain classifier. Reported per setting:

- accuracy: the classifier's action accuracy of the generated videos (per action too);
- travel: per action, mean |k_t - k0| of the samples over that of Q's keypoints on the
  real video (1 = moves as far as the real motion; the issue asks for ±10 %);
- diversity: mean |sample_1 - sample_2| of two samples of one input (keypoint units);
- ms/sequence: one 32-frame keypoint sequence for one input, median of 20 (2 threads);
- kp accuracy: the same samples' keypoints read by `keyvid evaluate`'s keypoint-sequence
  classifier (trained on Q's keypoints of 512 training windows): the motion alone,
  before the renderer; the row "Q on the real videos" is its figure on the real motion.

Choices (the guidance scale, ``--sample-steps``: DDIM steps) are made on the development
and validation splits:

    python -m benchmarks.motion_generators --data /work/data/val8 --diffusion RUN \
        --guidance 1,2.5,4 --name motion_generators_val8
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from benchmarks.common import print_table, write_result
from keyvid.data.datasets import frames_to_tensor
from keyvid.data.format import PreparedDataset
from keyvid.evaluation.generation import evaluation_windows, window_keypoints
from keyvid.evaluation.report import MOTION_CLASSIFIER_STEPS, MOTION_SEED
from keyvid.metrics.actions import accuracy, classify, per_class_accuracy
from keyvid.metrics.motion_recognition import classify_sequences, fit_sequence_classifier
from keyvid.models.load import load_classifier
from keyvid.models.sequence_classifier import SequenceClassifier
from keyvid.pipeline.generate import Pipeline

DIVERSITY_SEED = 10_000  # the second sample of video i is seeded by i + this


def recognition(logits: torch.Tensor, target: torch.Tensor, actions: list[str]) -> dict:
    """kp accuracy overall and per action of the keypoint-sequence classifier's logits."""
    per_class = per_class_accuracy(logits, target, len(actions))
    return {
        "kp_accuracy": accuracy(logits, target),
        "kp_per_class": dict(zip(actions, per_class, strict=True)),
    }


def measure(
    pipe: Pipeline,
    classifier,
    data: PreparedDataset,
    sampling: dict,
    real_tracks: torch.Tensor,
    recogniser,
) -> dict:
    """Accuracy (of the videos, and of their keypoints by ``recogniser``), per-action travel
    ratio and diversity of one sampling setting, for the first ``len(real_tracks)`` test
    videos; ``real_tracks`` (N, L, K, 2) is Q on each."""
    length = pipe.motion.config.length + 1
    videos, labels, travel, real_travel, diversity, tracks = [], [], [], [], [], []
    windows = zip(evaluation_windows(data, length), real_tracks, strict=False)
    for index, ((window, action), real) in enumerate(windows):
        first = pipe(window[0], action, frames=length - 1, seed=index, **sampling)
        videos.append(frames_to_tensor(first.frames[0]))  # (L, 3, H, W)
        labels.append(action)
        kp = first.keypoints[0]  # (L, K, 2)
        tracks.append(kp)
        # The second sample's keypoints alone: a stream samples its motion before rendering.
        second = pipe.stream(
            window[0], action, frames=length - 1, seed=index + DIVERSITY_SEED, **sampling
        ).keypoints  # (1, L, K, 2)
        travel.append(float(np.abs(kp[1:] - kp[:1]).mean()))
        real_travel.append(float((real[1:] - real[:1]).abs().mean()))
        diversity.append(float(np.abs(first.keypoints[:, 1:] - second[:, 1:]).mean()))
    logits, _ = classify(classifier, videos)
    target = torch.tensor(labels)
    per_class = per_class_accuracy(logits, target, len(data.actions))
    kp_logits, _ = classify_sequences(recogniser, np.stack(tracks))
    labels_np, travel_np, real_np = np.array(labels), np.array(travel), np.array(real_travel)
    ratio = {
        name: float(travel_np[labels_np == a].mean() / real_np[labels_np == a].mean())
        for a, name in enumerate(data.actions)
        if (labels_np == a).any()
    }
    return {
        "accuracy": accuracy(logits, target),
        **recognition(kp_logits, target, data.actions),
        "per_class": dict(zip(data.actions, per_class, strict=True)),
        "travel": ratio,
        "travel_mean": float(travel_np.mean() / real_np.mean()),
        "diversity": float(np.mean(diversity)),
        "videos": len(labels),
    }


def sequence_ms(pipe: Pipeline, sampling: dict, repeats: int = 20) -> float:
    """Milliseconds for one 32-frame keypoint sequence of one input (motion only)."""
    k = pipe.motion.config.num_keypoints
    k0 = torch.zeros(1, k, 2)
    action = torch.zeros(1, dtype=torch.long) if pipe.uses_action else None
    keep = {k: v for k, v in sampling.items() if k == "guidance"}
    times = []
    for i in range(repeats + 2):
        start = time.perf_counter()
        pipe.motion.sample(k0, action, 32, torch.Generator().manual_seed(i), **keep)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times[2:])  # the first two warm up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="prepared synthetic dataset (test split)")
    parser.add_argument("--cvae", default="synth", help="the cVAE pipeline (default: synth)")
    parser.add_argument("--diffusion", required=True, help="diffusion stage-2 run or pipeline")
    parser.add_argument("--guidance", default="1,2.5", help="guidance scales to try")
    parser.add_argument("--classifier", default="synth-classifier")
    parser.add_argument(
        "--sample-steps", default="", help="DDIM steps to try (default: the model's own)"
    )
    parser.add_argument("--max-videos", type=int)
    parser.add_argument("--skip-cvae", action="store_true", help="only the diffusion settings")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--name", default="motion_generators", help="results/<name>.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cvae = Pipeline.from_pretrained(args.cvae)
    diffusion = Pipeline.from_pretrained(args.diffusion)
    classifier, _ = load_classifier(args.classifier)
    data = PreparedDataset(args.data, "test")
    settings = (
        []
        if args.skip_cvae
        else [
            ("cVAE raw (scale 1)", cvae, {"motion_scale": 1.0}),
            ("cVAE travel-calibrated", cvae, {}),
        ]
    )
    steps = [int(n) for n in args.sample_steps.split(",") if n] or [None]
    settings += [
        (
            f"diffusion raw, guidance {g}" + (f", {n} DDIM steps" if n else ""),
            diffusion,
            {"guidance": float(g), "sample_steps": n},
        )
        for g in args.guidance.split(",")
        for n in steps
    ]
    # Q's keypoints (N, L, K, 2) on the real windows and their actions (N,), per pipeline.
    tracks: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def real_tracks(pipe: Pipeline) -> tuple[torch.Tensor, torch.Tensor]:
        if id(pipe) not in tracks:
            length = pipe.motion.config.length + 1
            tracks[id(pipe)] = window_keypoints(
                data, pipe.stage1.detector, length=length, image_size=pipe.image_size
            )
        return tracks[id(pipe)]

    recognisers: dict[int, SequenceClassifier] = {}  # the motion-only reader, per pipeline

    def recogniser(pipe: Pipeline) -> SequenceClassifier:
        """`keyvid evaluate`'s keypoint-sequence classifier, on Q's training windows."""
        if id(pipe) not in recognisers:
            train = PreparedDataset(args.data, "train")
            length = pipe.motion.config.length + 1
            kp, labels = window_keypoints(
                train, pipe.stage1.detector, length=length, image_size=pipe.image_size,
                max_videos=512,  # keyvid evaluate's default (max_train_videos)
            )  # fmt: skip
            recognisers[id(pipe)] = fit_sequence_classifier(
                kp, labels, len(data.actions), steps=MOTION_CLASSIFIER_STEPS, seed=MOTION_SEED
            )
        return recognisers[id(pipe)]

    rows, details = [], {}
    # The yardstick's own figure: Q's keypoints on the real test videos.
    real, real_labels = (t[: args.max_videos] for t in real_tracks(diffusion))
    real_logits, _ = classify_sequences(recogniser(diffusion), real)
    details["Q on the real videos"] = recognition(real_logits, real_labels, data.actions)
    print(f"Q on the real videos: kp accuracy {details['Q on the real videos']['kp_accuracy']:.4f}")
    default_steps = diffusion.motion.config.diffusion.sample_steps
    for label, pipe, sampling in settings:
        start = time.time()
        sampling = dict(sampling)
        # DDIM steps are the model's setting, not a sampling argument: set it for this row.
        diffusion.motion.config.diffusion.sample_steps = sampling.pop("sample_steps", None) or (
            default_steps
        )
        real = real_tracks(pipe)[0][: args.max_videos]
        m = measure(pipe, classifier, data, sampling, real, recogniser(pipe))
        details[label] = m
        rows.append(
            {
                "setting": label,
                "accuracy": round(m["accuracy"], 4),
                "kp accuracy": round(m["kp_accuracy"], 4),
                "travel": round(m["travel_mean"], 3),
                "travel min": round(min(m["travel"].values()), 3),
                "travel max": round(max(m["travel"].values()), 3),
                "diversity": round(m["diversity"], 4),
                "ms/sequence": round(sequence_ms(pipe, sampling), 1),
                "seconds": round(time.time() - start),
            }
        )
        print(rows[-1], flush=True)
    print_table(rows, list(rows[0]))
    write_result(
        args.name,
        rows,
        data=args.data,
        videos=rows and details[rows[0]["setting"]]["videos"],
        cvae=args.cvae,
        diffusion=args.diffusion,
        details=details,
    )


if __name__ == "__main__":
    main()
