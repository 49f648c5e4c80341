"""The ``keyvid`` command: a thin layer over the Python API.

Each command group lives in its own module and registers its subcommands with
``add_parser(subparsers)``. A ``KeyvidError`` (a user mistake or bad input)
becomes one ``error:`` line and exit status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from keyvid._version import __version__
from keyvid.cli import calibrate as calibrate_cli
from keyvid.cli import data as data_cli
from keyvid.cli import demo as demo_cli
from keyvid.cli import edit as edit_cli
from keyvid.cli import evaluate as evaluate_cli
from keyvid.cli import export as export_cli
from keyvid.cli import extract as extract_cli
from keyvid.cli import predict as predict_cli
from keyvid.cli import recipe as recipe_cli
from keyvid.cli import serve as serve_cli
from keyvid.cli import train as train_cli
from keyvid.errors import KeyvidError, TrainingStopped

COMMAND_GROUPS = (
    demo_cli,
    predict_cli,
    edit_cli,
    serve_cli,
    data_cli,
    extract_cli,
    train_cli,
    calibrate_cli,
    evaluate_cli,
    export_cli,
    recipe_cli,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keyvid",
        description="One image + an action name -> a video, through keypoints learned "
        "without labels (Kim et al., NeurIPS 2019).",
        epilog="Run `keyvid COMMAND --help` for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"keyvid {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in COMMAND_GROUPS:
        group.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # KEY=VALUE overrides may come before or after options (argparse alone takes
    # positionals only in one run): collect the stragglers here.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides += extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.handler(args) or 0)
    except KeyvidError as e:
        if args.debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TrainingStopped as e:
        print(
            f"stopped by {e.signal_name}: checkpoint saved at {e.checkpoint}; "
            + getattr(args, "resume_hint", "continue with --resume RUN_DIR"),
            file=sys.stderr,
        )
        return 128 + e.signum
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
