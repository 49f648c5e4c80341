"""``keyvid calibrate``: measure how far a motion generator's samples move, per action."""

from __future__ import annotations

import argparse
from pathlib import Path

from keyvid.errors import KeyvidError


def add_parser(commands: argparse._SubParsersAction) -> None:
    calibrate = commands.add_parser(
        "calibrate",
        help="match how far generated keypoints move to the training data, per action",
        description="A motion generator's samples move less than the data (a VAE sample "
        "regresses towards the mean motion). This measures, for each action, the mean "
        "distance the training pseudo-labels travel from the first frame over the distance "
        "raw samples travel, and writes a copy of the checkpoint whose samples are scaled "
        "by it. Training with model.generator.calibrate_travel=true does the same at every "
        "checkpoint; use this for a model trained without it.",
        epilog="Example: keyvid calibrate --checkpoint synth --data data/synth --out synth-cal",
    )
    calibrate.add_argument(
        "--checkpoint", required=True, help="stage-2 or pipeline checkpoint, or shipped name"
    )
    calibrate.add_argument(
        "--data", type=Path, required=True, help="the dataset it was trained on, with pseudo-labels"
    )
    calibrate.add_argument("--out", type=Path, required=True, help="folder for the copy")
    calibrate.add_argument(
        "--keypoints", help="pseudo-label set (default: the one the model was trained on)"
    )
    calibrate.add_argument("--samples", type=int, default=4, help="samples per video (default: 4)")
    calibrate.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    calibrate.set_defaults(handler=run_calibrate)


def run_calibrate(args: argparse.Namespace) -> None:
    from keyvid.pipeline.calibrate import calibrate_motion

    if args.out.exists() and not args.overwrite:
        raise KeyvidError(f"{args.out} exists; pass --overwrite to replace it")
    if not 1 <= args.samples <= 64:
        raise KeyvidError(f"--samples must be 1 to 64, got {args.samples}")
    dest, factors = calibrate_motion(
        args.checkpoint, args.data, args.out, keypoints=args.keypoints, samples=args.samples
    )
    width = max(map(len, factors))
    for action, factor in factors.items():
        print(f"{action:<{width}}  x{factor:.3f}")
    print(f"wrote {dest}")
