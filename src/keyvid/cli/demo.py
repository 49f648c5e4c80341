"""``keyvid demo``: the shipped model on unseen synthetic actors, every action, no downloads."""

from __future__ import annotations

import argparse
from pathlib import Path

from keyvid.errors import KeyvidError


def add_parser(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="generate every action for a few unseen synthetic actors (start here)",
        description="Draw a few synthetic actors the model never saw, generate every action "
        "for each with several samples, and write one animated grid (actor<i>.gif, and the "
        "same as actor<i>.mp4, far smaller) and one storyboard (actor<i>_storyboard.png, the "
        "paper's Figure 5 layout) per actor. With --compare, also real against generated for "
        "every action (actor<i>_compare.*).",
        epilog="Examples: keyvid demo --out demo; keyvid demo --compare --out demo",
    )
    demo.add_argument("--out", type=Path, default=Path("keyvid-demo"), help="output folder")
    demo.add_argument("--checkpoint", default="synth", help="model (default: %(default)s)")
    demo.add_argument("--actors", type=int, default=3, help="unseen actors (default: 3)")
    demo.add_argument("--samples", type=int, default=2, help="videos per action (default: 2)")
    demo.add_argument("--frames", type=int, default=32, help="generated frames (default: 32)")
    demo.add_argument("--seed", type=int, default=0, help="actors and motions follow the seed")
    demo.add_argument(
        "--compare",
        action="store_true",
        help="also write actor<i>_compare.png, .gif and .mp4: for every action, the actor's real "
        "synthetic video above the one the model generates from its first frame (one "
        "sample); needs a model of the synthetic actions, such as synth",
    )
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> None:
    from keyvid.pipeline.demo import compare_actions, make_demo, synthetic_actions
    from keyvid.pipeline.generate import Pipeline

    if not 1 <= args.actors <= 50:
        raise KeyvidError(f"--actors must be from 1 to 50, got {args.actors}")
    if args.out.exists() and not args.out.is_dir():
        raise KeyvidError(f"{args.out} exists and is not a folder; choose another --out")
    pipe = Pipeline.from_pretrained(args.checkpoint)
    if not pipe.actions:
        raise KeyvidError(f"{args.checkpoint} has no action classes; the demo needs some")
    if args.compare:
        try:
            synthetic_actions(pipe)  # before the plain demo's minutes, not after
        except KeyvidError as e:
            raise KeyvidError(f"--compare with {args.checkpoint}: {e}") from None
    paths = make_demo(
        pipe,
        args.out,
        actors=args.actors,
        samples=args.samples,
        frames=args.frames,
        seed=args.seed,
    )
    if args.compare:
        paths += compare_actions(
            pipe, args.out, actors=args.actors, frames=args.frames, seed=args.seed
        )
    for path in paths:
        print(path)
    print(f"demo written to {args.out.resolve()}")
