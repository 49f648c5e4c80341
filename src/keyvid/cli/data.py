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

    add_prepare_parser(sub)

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


def add_prepare_parser(sub: argparse._SubParsersAction) -> None:
    prepare = sub.add_parser(
        "prepare",
        help="convert a real dataset or a folder of your own videos",
        description="Convert a source once into the prepared format that training reads fast. "
        "Bad videos are skipped with a warning and counted; nothing half-written is left behind.",
    )
    kinds = prepare.add_subparsers(dest="source", metavar="SOURCE", required=True)

    penn = kinds.add_parser(
        "penn",
        help="Penn Action: the paper's 9 classes and the authors' split (1172 train / 90 test)",
        description="Read the unpacked Penn Action release (SRC/frames/<id>/000001.jpg, "
        "SRC/labels/<id>.mat), keep the paper's 9 classes with the authors' split, crop one "
        "square per video around the actor, resize, and keep the 13 joints for evaluation. "
        "Needs scipy: pip install 'keyvid[penn]'.",
    )
    fomm = kinds.add_parser(
        "fomm",
        help="UvA-NEMO, MGIF, ...: First Order Motion Model's train/ and test/ layout",
        description="Read SRC/train/ and SRC/test/ holding frame folders, video files "
        "(.mp4 .gif .mov ...) or .png frame strips. One action: stage 2 runs unconditioned.",
    )
    folder = kinds.add_parser(
        "folder",
        help="your own videos: one subfolder per action, or a CSV of path,action[,split]",
        description="SRC/<action>/<video> (files or frame folders), or SRC a CSV file with rows "
        "path,action[,split], or --single-action NAME for videos directly in SRC. Videos are "
        "centre-cropped, resized, brought to --fps and cut into clips; without a given split, "
        "a deterministic --test-fraction of each action's videos becomes the test split.",
    )
    for parser, size in ((penn, 128), (fomm, 128), (folder, 128)):
        parser.add_argument("--src", type=Path, required=True, help="the source (see above)")
        parser.add_argument("--out", type=Path, required=True, help="output dataset folder")
        parser.add_argument(
            "--size", type=int, default=size, help=f"frame size in pixels (default: {size})"
        )
        parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    for parser in (fomm, folder):
        parser.add_argument(
            "--single-action",
            metavar="NAME",
            help="all videos show one action NAME"
            + (" (default: SRC's folder name)" if parser is fomm else ", directly in SRC"),
        )
    folder.add_argument(
        "--fps", type=float, default=15.0, help="at most this frame rate; 0 keeps it (default: 15)"
    )
    folder.add_argument(
        "--clip-frames",
        type=int,
        default=75,
        help="cut videos into clips of this many frames; 0 keeps them whole (default: 75)",
    )
    folder.add_argument(
        "--test-fraction",
        type=float,
        default=0.1,
        help="share of each action's videos in the test split, unless a CSV says (default: 0.1)",
    )
    folder.add_argument(
        "--min-frames",
        type=int,
        default=8,
        help="skip clips shorter than this, with a warning (default: 8)",
    )
    prepare.set_defaults(handler=run_prepare)


def run_prepare(args: argparse.Namespace) -> None:
    import logging

    from keyvid.errors import KeyvidError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if args.size < 16:
        raise KeyvidError(f"--size {args.size} is too small; use at least 16 (the paper: 128)")
    common = {"size": args.size, "overwrite": args.overwrite}
    if args.source == "penn":
        from keyvid.data.penn import prepare_penn

        report = prepare_penn(args.src, args.out, **common)
    elif args.source == "fomm":
        from keyvid.data.fomm import prepare_fomm

        report = prepare_fomm(args.src, args.out, single_action=args.single_action, **common)
    else:
        from keyvid.data.folder import prepare_folder

        report = prepare_folder(
            args.src,
            args.out,
            single_action=args.single_action,
            fps=args.fps or None,
            clip_frames=args.clip_frames or None,
            test_fraction=args.test_fraction,
            min_frames=args.min_frames,
            **common,
        )
    print(report.summary())


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
