"""``keyvid evaluate``: measure a trained model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("evaluate", help="measure a trained model")
    sub = evaluate.add_subparsers(dest="evaluate_command", metavar="WHAT", required=True)
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
