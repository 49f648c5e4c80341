"""``keyvid serve``: the web page (a thin layer over ``keyvid.web``)."""

from __future__ import annotations

import argparse

from keyvid.cli.predict import CHECKPOINT_HELP
from keyvid.errors import KeyvidError
from keyvid.extras import require


def add_parser(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="a web page to predict, animate and edit keypoints",
        description="Start a Gradio web server with three tabs: Predict (image + action -> "
        "video), Animate (image + driving video) and Edit keypoints (move keypoints, render "
        "the posed image). It binds to localhost unless --host says otherwise. Needs "
        "pip install 'keyvid[web]'.",
        epilog="Example: keyvid serve, then open http://127.0.0.1:7860",
    )
    serve.add_argument("--checkpoint", default="synth", help=CHECKPOINT_HELP)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=7860, help="port (default: %(default)s)")
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> None:
    require("web")
    if not 0 < args.port < 65536:
        raise KeyvidError(f"--port must be 1 to 65535, got {args.port}")
    from keyvid.web import example_images, serve

    serve(args.checkpoint, host=args.host, port=args.port, examples=example_images())
