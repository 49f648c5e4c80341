"""``keyvid export``: keep the inference part of a checkpoint (how shipped models are made)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from keyvid.errors import KeyvidError

INFERENCE_NETWORKS = ("detector", "translator")


def add_parser(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="copy a checkpoint's inference networks and config to a small folder",
        description="Write the weights a checkpoint needs for inference (no optimiser state, "
        "no discriminator) with its config and metadata to OUT, e.g. to ship a model.",
        epilog="Example: keyvid export runs/stage1-synth src/keyvid/pretrained/synth",
    )
    export.add_argument("checkpoint", help="checkpoint folder, run folder or shipped name")
    export.add_argument("out", type=Path, help="folder to write (must not exist)")
    export.add_argument(
        "--networks",
        default=",".join(INFERENCE_NETWORKS),
        help="comma-separated networks to keep (default: %(default)s)",
    )
    export.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> None:
    from keyvid.training.checkpoint import export_checkpoint

    if args.out.exists() and not args.overwrite:
        raise KeyvidError(f"{args.out} exists; pass --overwrite to replace it")
    networks = tuple(n for n in args.networks.split(",") if n)
    dest = export_checkpoint(args.checkpoint, args.out, networks=networks)
    step = json.loads((dest / "meta.json").read_text())["step"]
    print(f"exported {', '.join(networks)} at step {step} to {dest}")
