"""``keyvid data``: make, inspect and preview prepared datasets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="make, inspect and preview datasets")
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    synth = sub.add_parser(
        "synth",
        help="render the synthetic action dataset (the embedded default)",
        description="Render articulated 2D actors performing the 9 Penn Action classes over "
        "cluttered backgrounds, with ground-truth joints for evaluation, into a prepared dataset.",
    )
    synth.add_argument("out", type=Path, help="output dataset folder")
    synth.add_argument(
        "--train", type=int, default=450, help="training videos (default: 450, 50 per class)"
    )
    synth.add_argument(
        "--test", type=int, default=90, help="test videos (default: 90, 10 per class)"
    )
    synth.add_argument(
        "--size", type=int, default=64, help="frame size in pixels: 64 or 128 (default: 64)"
    )
    synth.add_argument("--frames", type=int, default=40, help="frames per video (default: 40)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    synth.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    synth.set_defaults(handler=run_synth)

    preview = sub.add_parser("preview", help="write a GIF of a few videos with their joints")
    preview.add_argument("data", type=Path, help="prepared dataset folder")
    preview.add_argument("--out", type=Path, default=Path("preview.gif"), help="GIF or MP4 path")
    preview.add_argument("--split", default="train", help="split to show (default: train)")
    preview.add_argument("--videos", type=int, default=9, help="number of videos (default: 9)")
    preview.add_argument("--scale", type=int, default=2, help="pixel upscaling factor (default: 2)")
    preview.add_argument("--fps", type=float, default=10.0, help="frames per second (default: 10)")
    preview.add_argument("--no-joints", action="store_true", help="do not draw ground-truth joints")
    preview.set_defaults(handler=run_preview)

    info = sub.add_parser("info", help="what a prepared dataset holds")
    info.add_argument("data", type=Path, help="prepared dataset folder")
    info.add_argument("--json", action="store_true", help="print a JSON object")
    info.set_defaults(handler=run_info)


def run_synth(args: argparse.Namespace) -> None:
    from keyvid.data.prepare import prepare_synthetic

    root = prepare_synthetic(
        args.out,
        train=args.train,
        test=args.test,
        size=args.size,
        frames=args.frames,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    print(f"wrote {args.train} train + {args.test} test videos to {root}")


def run_preview(args: argparse.Namespace) -> None:
    from keyvid.data.summary import render_preview
    from keyvid.errors import KeyvidError
    from keyvid.io import write_video

    if args.videos < 1 or args.scale < 1:
        raise KeyvidError("--videos and --scale must be at least 1")
    grid = render_preview(
        args.data, split=args.split, videos=args.videos, scale=args.scale, joints=not args.no_joints
    )
    path = write_video(args.out, grid, fps=args.fps)
    print(f"wrote {path} ({len(grid)} frames, {grid.shape[2]}×{grid.shape[1]})")


def run_info(args: argparse.Namespace) -> None:
    from keyvid.data.summary import dataset_summary, format_summary

    summary = dataset_summary(args.data)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
