"""``keyvid serve``: the web page (a thin layer over ``keyvid.web``)."""

from __future__ import annotations

import argparse

from keyvid.cli.predict import CHECKPOINT_HELP
from keyvid.extras import require


def add_parser(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="a web page to predict, animate and edit keypoints",
        description="Start a Gradio web server with three tabs: Predict (image + action -> "
        "video), Animate (image + driving video) and Edit keypoints (move keypoints, render "
        "the posed image). It binds to localhost unless --host says otherwise. Requests "
        "that run the model wait in one bounded queue (the page shows each its place); one "
        "beyond it is refused with a 'busy, try again' message. Needs "
        "pip install 'keyvid[web]'.",
        epilog="Example: keyvid serve, then open http://127.0.0.1:7860",
    )
    serve.add_argument("--checkpoint", default="synth", help=CHECKPOINT_HELP)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=7860, help="port (default: %(default)s)")
    serve.add_argument(
        "--concurrency", type=int, default=1, metavar="N",
        help="requests run at once (default: %(default)s: one request already uses every "
        "core through torch's threads, so on a CPU more at once only share the cores and "
        "each takes longer; raise it for a GPU or many cores)",
    )  # fmt: skip
    serve.add_argument(
        "--queue-size", type=int, default=16, metavar="Q",
        help="requests that may wait beyond the running ones; one more is refused with "
        "'busy, please try again' (default: %(default)s)",
    )  # fmt: skip
    serve.add_argument(
        "--max-frames", type=int, default=128, metavar="F",
        help="most frames a request may generate, and most frames of a driving video "
        "(default: %(default)s); the page's slider stops there, the API refuses more",
    )  # fmt: skip
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> None:
    require("web")
    from keyvid.web import example_images, serve

    serve(
        args.checkpoint, host=args.host, port=args.port, examples=example_images(),
        concurrency=args.concurrency, queue_size=args.queue_size, max_frames=args.max_frames,
    )  # fmt: skip
