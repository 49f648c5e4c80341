"""``keyvid predict`` (image + action -> video) and ``keyvid animate`` (image + driving video)."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from keyvid.errors import KeyvidError

CHECKPOINT_HELP = "pipeline folder, stage-2 checkpoint/run or shipped name (default: %(default)s)"
GUIDANCE_HELP = (
    "classifier-free guidance of a diffusion motion generator: how strongly samples follow "
    "the action (default: the model's own; 1: none)"
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser(
        "predict",
        help="one image + an action name -> a video",
        description="Detect the image's keypoints, generate how they move for the action "
        "(one future per sample) and translate the image along them. The video holds the "
        "input frame followed by the generated frames. The image is centre-cropped to a "
        "square and resized to the model's resolution (64x64 for synth).",
        epilog="Example: keyvid predict --image actor.png --action squats --samples 4 "
        "--out squats.gif",
    )
    predict.add_argument("--checkpoint", default="synth", help=CHECKPOINT_HELP)
    predict.add_argument("--stage1", help="stage-1 checkpoint to pair with a stage-2 checkpoint")
    predict.add_argument("--image", type=Path, help="input image (PNG, JPEG, ...)")
    predict.add_argument("--action", help="action name (any case, spaces or _) or class index")
    predict.add_argument("--list-actions", action="store_true", help="list the actions and exit")
    predict.add_argument("--frames", type=int, default=32, help="generated frames (default: 32)")
    predict.add_argument("--samples", type=int, default=1, help="videos to draw (default: 1)")
    predict.add_argument("--seed", type=int, default=0, help="same seed, same videos")
    predict.add_argument(
        "--motion-scale",
        type=float,
        help="multiply how far the keypoints move (default: the model's measured factor per "
        "action; 1: its raw samples)",
    )
    predict.add_argument("--guidance", type=float, help=GUIDANCE_HELP)
    predict.add_argument("--out", type=Path, help="output .gif or .mp4 (samples: OUT_1, OUT_2...)")
    predict.add_argument("--grid", action="store_true", help="all samples side by side in OUT")
    _add_output_arguments(predict)
    predict.add_argument(
        "--keypoints-out", type=Path, help="also write the keypoint sequences as JSON"
    )
    predict.set_defaults(handler=run_predict)

    animate = commands.add_parser(
        "animate",
        help="move an image as the object in a driving video moves",
        description="Detect keypoints on every frame of the driving video and move the "
        "image's own keypoints by their displacement from the first driving frame "
        "(relative motion, as in First Order Motion Model), then translate the image.",
        epilog="Example: keyvid animate --image actor.png --driving clip.mp4 --out out.mp4",
    )
    animate.add_argument("--checkpoint", default="synth", help=CHECKPOINT_HELP)
    animate.add_argument("--image", type=Path, required=True, help="input image")
    animate.add_argument("--driving", type=Path, required=True, help="driving video or frames")
    animate.add_argument("--out", type=Path, required=True, help="output .gif or .mp4")
    animate.add_argument(
        "--max-frames", type=int, default=1024, help="driving frames to use (default: 1024)"
    )
    _add_output_arguments(animate)
    animate.set_defaults(handler=run_animate)


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fps", type=float, default=8.0, help="frames per second (default: 8)")
    parser.add_argument("--overlay", action="store_true", help="draw the keypoints on the frames")
    parser.add_argument(
        "--upscale", type=int, default=1, help="enlarge frames N times (nearest) for viewing"
    )


def run_predict(args: argparse.Namespace) -> None:
    from keyvid.pipeline.generate import Pipeline
    from keyvid.pipeline.outputs import check_output_path, save_keypoints_json, save_videos

    if args.list_actions:
        pipe = Pipeline.from_pretrained(args.checkpoint, stage1=args.stage1)
        for i, name in enumerate(pipe.actions):
            print(f"{i}: {name}")
        return
    if args.image is None or args.out is None:
        raise KeyvidError("--image and --out are required (or --list-actions)")
    _check_output_options(args)
    check_output_path(args.out)
    if args.keypoints_out is not None:
        check_output_path(args.keypoints_out, (".json",))
    pipe = Pipeline.from_pretrained(args.checkpoint, stage1=args.stage1)
    if args.action is None and pipe.uses_action:
        raise KeyvidError("--action is required; choose one of: " + ", ".join(pipe.actions))
    result = pipe.stream(
        args.image,
        args.action,
        frames=args.frames,
        samples=args.samples,
        seed=args.seed,
        motion_scale=args.motion_scale,
        guidance=args.guidance,
    )
    paths = save_videos(
        result, args.out, grid=args.grid, overlay=args.overlay, scale=args.upscale, fps=args.fps
    )
    if args.keypoints_out is not None:
        paths.append(save_keypoints_json(result, args.keypoints_out))
    for path in paths:
        print(path)


def run_animate(args: argparse.Namespace) -> None:
    from keyvid.io.video import read_video
    from keyvid.pipeline.generate import Pipeline, square_image
    from keyvid.pipeline.outputs import check_output_path, save_videos

    _check_output_options(args)
    if args.max_frames < 1:
        raise KeyvidError(f"--max-frames must be at least 1, got {args.max_frames}")
    check_output_path(args.out)
    pipe = Pipeline.from_pretrained(args.checkpoint)
    # Frames at the model's size from the start: what the pipeline sees, a fraction of the memory.
    to_model = functools.partial(square_image, size=pipe.image_size)
    driving = read_video(args.driving, max_frames=args.max_frames, transform=to_model)
    result = pipe.stream_animate(args.image, driving)
    paths = save_videos(result, args.out, overlay=args.overlay, scale=args.upscale, fps=args.fps)
    print(paths[0])


def _check_output_options(args: argparse.Namespace) -> None:
    if not 1 <= args.upscale <= 16:
        raise KeyvidError(f"--upscale must be from 1 to 16, got {args.upscale}")
    if not 0 < args.fps <= 240:
        raise KeyvidError(f"--fps must be above 0 and at most 240, got {args.fps}")
