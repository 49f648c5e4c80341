"""``keyvid edit``: pose an image by its keypoints (the paper's Fig. 8, from a file)."""

from __future__ import annotations

import argparse
from pathlib import Path

from keyvid.cli.predict import CHECKPOINT_HELP
from keyvid.errors import KeyvidError


def add_parser(commands: argparse._SubParsersAction) -> None:
    edit = commands.add_parser(
        "edit",
        help="pose an image by moving its keypoints",
        description="Render the image with its object posed as the given keypoints: the "
        "translator maps the image's own keypoints to them (move keypoints to move, stretch or "
        "remove parts). Start from the image's detected keypoints (--detect KP.json), edit the "
        "numbers, then render (--keypoints KP.json --out OUT.png). Files written by "
        "`keyvid predict --keypoints-out` work too (pick one with --sample and --frame).",
        epilog="Example: keyvid edit --image actor.png --detect kp.json; (edit kp.json); "
        "keyvid edit --image actor.png --keypoints kp.json --out posed.png",
    )
    edit.add_argument("--checkpoint", default="synth", help=CHECKPOINT_HELP)
    edit.add_argument("--image", type=Path, required=True, help="input image")
    edit.add_argument("--detect", type=Path, metavar="KP.json", help="write its keypoints, exit")
    edit.add_argument("--keypoints", type=Path, metavar="KP.json", help="the pose to render")
    edit.add_argument("--sample", type=int, default=0, help="sample of KP.json (default: 0)")
    edit.add_argument(
        "--frame", type=int, default=-1, help="frame of KP.json (default: -1, the last)"
    )
    edit.add_argument("--out", type=Path, help="output image (.png, .jpg)")
    edit.add_argument("--overlay", action="store_true", help="draw the keypoints")
    edit.add_argument("--upscale", type=int, default=1, help="enlarge N times for viewing")
    edit.set_defaults(handler=run_edit)


def run_edit(args: argparse.Namespace) -> None:
    from keyvid.io.image import write_image
    from keyvid.pipeline.generate import Pipeline
    from keyvid.pipeline.outputs import (
        check_output_path,
        load_keypoints_json,
        render_videos,
        write_keypoints_json,
    )

    if (args.detect is None) == (args.keypoints is None):
        raise KeyvidError("give either --detect KP.json or --keypoints KP.json (with --out)")
    if not 1 <= args.upscale <= 16:
        raise KeyvidError(f"--upscale must be from 1 to 16, got {args.upscale}")
    if args.detect is not None:
        check_output_path(args.detect, (".json",))
        pipe = Pipeline.from_pretrained(args.checkpoint)
        print(write_keypoints_json(pipe.detect(args.image)[None, None], args.detect))
        return
    if args.out is None:
        raise KeyvidError("--out OUT.png is required with --keypoints")
    check_output_path(args.out, (".png", ".jpg", ".jpeg"))
    points = load_keypoints_json(args.keypoints)  # (S, T, K, 2), checked
    samples, frames = points.shape[:2]
    if not (-samples <= args.sample < samples and -frames <= args.frame < frames):
        raise KeyvidError(
            f"{args.keypoints} holds {samples} sample(s) of {frames} frame(s); "
            f"--sample {args.sample} --frame {args.frame} is outside"
        )
    pipe = Pipeline.from_pretrained(args.checkpoint)
    result = pipe.edit(args.image, points[args.sample, args.frame])
    video = render_videos(result, overlay=args.overlay, scale=args.upscale)[0]  # (2, H, W, 3)
    print(write_image(args.out, video[-1]))
