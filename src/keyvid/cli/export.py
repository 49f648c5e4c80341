"""``keyvid export``: keep the inference part of a checkpoint (how shipped models are made)."""

from __future__ import annotations

import argparse
from pathlib import Path

from keyvid.errors import KeyvidError
from keyvid.extras import require


def add_parser(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="copy a checkpoint's inference networks and config to a small folder",
        description="Write the weights a checkpoint needs for inference (no optimiser state, "
        "no discriminator) with its config and metadata to OUT, e.g. to ship a model. "
        "A stage-2 checkpoint is bundled with its stage 1 into one pipeline folder, which "
        "`keyvid predict --checkpoint OUT` loads. With --format onnx, a pipeline (stage 1 + "
        "2) becomes ONNX files (detector, translator encoder and renderer, motion generator "
        "start and one decoder step) and a manifest, for onnxruntime without torch "
        "(examples/onnx_generate.py).",
        epilog="Examples: keyvid export runs/stage2-synth_stage2 src/keyvid/pretrained/synth; "
        "keyvid export synth onnx-synth --format onnx",
    )
    export.add_argument("checkpoint", help="checkpoint folder, run folder or shipped name")
    export.add_argument("out", type=Path, help="folder to write (must not exist)")
    export.add_argument(
        "--networks",
        help="comma-separated networks to keep (default: detector,translator for stage 1, "
        "action_classifier for a classifier)",
    )
    export.add_argument(
        "--stage1",
        help="stage-2 checkpoints: the stage 1 to bundle (default: the one in its config); "
        "pipelines: a stage 1 trained on its frozen detector, to swap in its translator",
    )
    export.add_argument(
        "--format",
        choices=("keyvid", "onnx"),
        default="keyvid",
        help="keyvid: safetensors + config (default); onnx: ONNX files + manifest",
    )
    export.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> None:
    from keyvid.checkpoint import (
        INFERENCE_NETWORKS,
        export_checkpoint,
        read_meta,
        resolve_checkpoint,
    )
    from keyvid.pipeline.loading import export_pipeline

    if args.out.exists() and not args.overwrite:
        raise KeyvidError(f"{args.out} exists; pass --overwrite to replace it")
    if args.format == "onnx":
        run_onnx_export(args)
        return
    source = resolve_checkpoint(args.checkpoint)
    kind = read_meta(source).get("kind")
    if kind == "stage2" or (kind == "pipeline" and args.stage1 is not None):
        dest = export_pipeline(source, args.out, stage1=args.stage1)
        what = "detector, translator, motion_generator"
    else:
        if args.stage1 is not None:
            raise KeyvidError("--stage1 applies to stage-2 and pipeline checkpoints only")
        if args.networks is not None:
            networks = tuple(n for n in args.networks.split(",") if n)
        elif kind in INFERENCE_NETWORKS:
            networks = INFERENCE_NETWORKS[kind]
        else:
            raise KeyvidError(
                f"{source} is a {kind!r} checkpoint; name the networks with --networks"
            )
        dest = export_checkpoint(source, args.out, networks=networks)
        what = ", ".join(networks)
    print(f"exported {what} at step {read_meta(dest)['step']} to {dest}")


def run_onnx_export(args: argparse.Namespace) -> None:
    from keyvid.pipeline.generate import Pipeline
    from keyvid.pipeline.onnx import export_onnx

    if args.networks is not None:
        raise KeyvidError("--networks does not apply to --format onnx (it exports them all)")
    require("onnx", "onnx")  # torch's exporter needs it; onnxruntime only runs the files
    pipe = Pipeline.from_pretrained(args.checkpoint, stage1=args.stage1)
    dest = export_onnx(pipe, args.out)
    print(f"exported {', '.join(sorted(p.name for p in dest.glob('*.onnx')))} to {dest}")
