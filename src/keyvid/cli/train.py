"""``keyvid train``: train stage 1 (and, later, stage 2 and the evaluator)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from keyvid.errors import KeyvidError


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train the networks")
    sub = train.add_subparsers(dest="train_command", metavar="STAGE", required=True)
    stage1 = sub.add_parser(
        "stage1",
        help="keypoint detector + translator (unsupervised keypoints)",
        description="Train the keypoint detector Q and the translator T by translating frames "
        "of the same video into each other (paper Sec. 2). Writes a run folder with the "
        "resolved config, metrics.jsonl, TensorBoard logs, sample grids and checkpoints.",
        epilog="Example: keyvid train stage1 --config configs/synth.yaml optim.steps=2000 "
        "data.root=data/synth",
    )
    stage1.add_argument(
        "--config", type=Path, help="YAML config (configs/*.yaml); default: built-in defaults"
    )
    stage1.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. optim.lr=1e-3"
    )
    stage1.add_argument("--run", type=Path, help="run folder (default: runs/stage1-<config name>)")
    stage1.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its latest checkpoint",
    )
    stage1.add_argument(
        "--max-steps",
        type=int,
        help="stop after this many steps in this call (the schedule is unchanged)",
    )
    stage1.set_defaults(handler=run_stage1)


def run_stage1(args: argparse.Namespace) -> None:
    from keyvid.config import load_config
    from keyvid.training.config import Stage1Config
    from keyvid.training.stage1 import train_stage1

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.resume is not None:
        run_dir = args.resume
        saved = run_dir / "config.yaml"
        if not saved.is_file():
            raise KeyvidError(
                f"{run_dir} is not a run folder (no config.yaml); check the --resume path"
            )
        if args.config is not None:
            raise KeyvidError("--resume reads the run's own config.yaml; drop --config")
        config = load_config(Stage1Config, saved, args.overrides)
    else:
        config = load_config(Stage1Config, args.config, args.overrides)
        name = args.config.stem if args.config else "default"
        run_dir = args.run or Path("runs") / f"stage1-{name}"
    last = train_stage1(config, run_dir, resume=args.resume is not None, max_steps=args.max_steps)
    print(f"checkpoint: {last}")
