"""``keyvid extract-keypoints``: stage-1 pseudo-labels for every frame of a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    extract = commands.add_parser(
        "extract-keypoints",
        help="detect keypoints on every frame of a dataset (stage-2 pseudo-labels)",
        description="Run a stage-1 detector over every frame of every video of a prepared "
        "dataset and store the keypoints with it (SPLIT/keypoints/NAME.npy), for training "
        "stage 2. Interrupted runs continue where they stopped when run again.",
        epilog="Example: keyvid extract-keypoints --checkpoint synth --data data/synth",
    )
    extract.add_argument(
        "--checkpoint", required=True, help="stage-1 checkpoint, run folder or shipped name"
    )
    extract.add_argument("--data", type=Path, required=True, help="prepared dataset folder")
    extract.add_argument(
        "--name", default="stage1", help="name of the pseudo-label set (default: %(default)s)"
    )
    extract.add_argument(
        "--split",
        action="append",
        choices=("train", "test"),
        help="only this split (repeatable; default: every split)",
    )
    extract.add_argument("--batch-size", type=int, default=128, help="frames per batch")
    extract.add_argument(
        "--chunk-frames",
        type=int,
        default=2048,
        help="frames between progress saves, and the unit shared out among torchrun "
        "processes (default: %(default)s)",
    )
    extract.add_argument("--overwrite", action="store_true", help="redo an existing set")
    extract.set_defaults(handler=run_extract)


def run_extract(args: argparse.Namespace) -> None:
    from keyvid.distributed import World, join, leave
    from keyvid.errors import KeyvidError
    from keyvid.models.load import load_stage1
    from keyvid.pipeline.pseudolabels import extract_keypoints
    from keyvid.training.harness.run import pick_device

    for flag, value in (("--batch-size", args.batch_size), ("--chunk-frames", args.chunk_frames)):
        if value < 1:
            raise KeyvidError(f"{flag} must be at least 1, got {value}")
    model, ckpt = load_stage1(args.checkpoint)
    # Under torchrun every process takes its share of the chunks (one GPU each).
    world = World.from_environment()
    device = join(world, pick_device("auto"))
    try:
        paths = extract_keypoints(
            model.detector.to(device),
            args.data,
            name=args.name,
            source={"checkpoint": str(ckpt.path), "step": ckpt.step},
            splits=tuple(args.split) if args.split else None,
            batch_size=args.batch_size,
            chunk_rows=args.chunk_frames,
            overwrite=args.overwrite,
        )
    finally:
        leave(world)
    if world.is_main:
        for split, path in paths.items():
            print(f"{split}: {path}")
