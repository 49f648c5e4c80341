"""``keyvid export``: keep the inference part of a checkpoint (how shipped models are made)."""

from __future__ import annotations

import argparse
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
    from keyvid.training.checkpoint import export_checkpoint, load_checkpoint

    if args.out.exists() and not args.overwrite:
        raise KeyvidError(f"{args.out} exists; pass --overwrite to replace it")
    networks = tuple(n for n in args.networks.split(",") if n)
    ckpt = load_checkpoint(args.checkpoint)
    present = sorted({k.split(".", 1)[0] for k in ckpt.weights})
    missing = [n for n in networks if n not in present]
    if missing:
        raise KeyvidError(
            f"{ckpt.path} has no {', '.join(missing)} weights; it has {', '.join(present)}"
        )
    dest = export_checkpoint(ckpt.path, args.out, networks=networks)
    print(f"exported {', '.join(networks)} at step {ckpt.step} to {dest}")
