"""``keyvid evaluate``: measure a trained model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from keyvid.cli.predict import GUIDANCE_HELP


def add_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="measure a trained model: videos, keypoints, reconstruction, baselines",
        description="Generate videos from the first frame of every test video and compare "
        "them with the real videos and with baselines (copy the first frame; the model "
        "without the action; T driven by the real video's keypoints): action-recognition "
        "accuracy and in-domain Fréchet distance (with a classifier trained on the data), "
        "FVD (with I3D weights), keypoint-sequence and stage-1 metrics. Writes "
        "OUT/metrics.json, OUT/report.md, plots and example videos.",
        epilog="Example: keyvid evaluate --checkpoint synth --data data/synth --out eval/synth"
        "  |  keypoints only: keyvid evaluate keypoints --checkpoint synth --data data/synth",
    )
    evaluate.add_argument(
        "--checkpoint", help="pipeline or stage-2 checkpoint, run folder or shipped name (synth)"
    )
    evaluate.add_argument("--data", type=Path, help="prepared dataset with a test split")
    evaluate.add_argument("--out", type=Path, help="folder for metrics.json, report.md, ...")
    evaluate.add_argument("--split", default="test", help="split to evaluate (default: test)")
    evaluate.add_argument(
        "--samples-per-video", type=int, default=1, help="generated videos per test video"
    )
    evaluate.add_argument(
        "--classifier",
        help="in-domain evaluator (keyvid train classifier); default: the shipped "
        "<dataset name>-classifier if there is one (synth-classifier)",
    )
    evaluate.add_argument(
        "--no-action",
        help="the model trained without the action (paper's w/o a); default: the shipped "
        "<checkpoint>-no-action if there is one (synth-no-action)",
    )
    evaluate.add_argument(
        "--i3d-weights",
        type=Path,
        help="Kinetics-400 I3D for FVD: a TF-Hub-converted state dict (TATS) or a "
        "TorchScript file (StyleGAN-V); without it FVD is skipped",
    )
    evaluate.add_argument(
        "--stage1-ablation",
        action="append",
        default=[],
        metavar="LABEL=CKPT",
        help="a stage-1 ablation to report beside the model (e.g. no-mask=runs/...); repeatable",
    )
    evaluate.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    evaluate.add_argument(
        "--motion-scale",
        type=float,
        help="multiply how far generated keypoints move (default: each model's measured "
        "factor per action; 1: raw samples)",
    )
    evaluate.add_argument("--guidance", type=float, help=GUIDANCE_HELP)
    evaluate.add_argument("--max-videos", type=int, help="evaluate only the first N test videos")
    evaluate.set_defaults(handler=run_report)
    sub = evaluate.add_subparsers(dest="evaluate_command", metavar="WHAT")
    kp = sub.add_parser(
        "keypoints",
        help="keypoint quality: linear regression to ground-truth joints (IMM protocol)",
        description="Fit a linear map from learned keypoints to ground-truth joints on the train "
        "split and report the test-split error as a fraction of image size, per joint too, "
        "beside the same figure for an untrained detector.",
    )
    kp.add_argument(
        "--checkpoint", required=True, help="checkpoint folder, run folder or shipped name (synth)"
    )
    kp.add_argument("--data", type=Path, required=True, help="prepared dataset with joints")
    kp.add_argument("--out", type=Path, help="write the results as JSON here")
    kp.add_argument(
        "--max-train-frames", type=int, default=8000, help="frames used to fit (default: 8000)"
    )
    kp.set_defaults(handler=run_keypoints)


def run_report(args: argparse.Namespace) -> None:
    from keyvid.errors import KeyvidError
    from keyvid.evaluation.report import evaluate_model

    missing = [f"--{n}" for n in ("checkpoint", "data", "out") if getattr(args, n) is None]
    if missing:
        raise KeyvidError(f"keyvid evaluate needs {', '.join(missing)} (see keyvid evaluate -h)")
    if args.max_videos is not None and args.max_videos < 1:
        raise KeyvidError(f"--max-videos must be at least 1, got {args.max_videos}")
    ablations = {}
    for spec in args.stage1_ablation:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            raise KeyvidError(f"--stage1-ablation takes LABEL=CKPT, got {spec!r}")
        ablations[label] = path
    result = evaluate_model(
        args.checkpoint,
        args.data,
        args.out,
        split=args.split,
        samples_per_video=args.samples_per_video,
        classifier=args.classifier,
        no_action=args.no_action,
        i3d_weights=args.i3d_weights,
        stage1_ablations=ablations,
        seed=args.seed,
        motion_scale=args.motion_scale,
        guidance=args.guidance,
        max_videos=args.max_videos,
    )
    if not result:  # a torchrun process other than rank 0: rank 0 reports
        return
    print((args.out / "report.md").read_text())
    print(f"wrote {args.out}/metrics.json, report.md, plots and examples")


def run_keypoints(args: argparse.Namespace) -> None:
    from keyvid.evaluation.report import evaluate_keypoints

    result = evaluate_keypoints(args.checkpoint, args.data, max_train_frames=args.max_train_frames)
    text = json.dumps(result, indent=2)
    if args.out is not None:
        from keyvid.io.image import atomic_output

        args.out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(args.out) as tmp:
            tmp.write_text(text + "\n")
    print(text)
