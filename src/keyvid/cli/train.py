"""``keyvid train``: train stage 1 (keypoints), stage 2 (motion) or the evaluator."""

from __future__ import annotations

import argparse
import logging
import os
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
    _add_run_arguments(stage1, "stage1")
    stage1.set_defaults(handler=run_stage1)
    stage2 = sub.add_parser(
        "stage2",
        help="motion generator on keypoint sequences (needs extract-keypoints first)",
        description="Train the motion generator M (a conditional VAE with LSTMs) and the "
        "sequence discriminator D_seq on pseudo-label keypoint sequences (paper Eq. 5). "
        "Same run folder, resume and logging conventions as stage 1.",
        epilog="Example: keyvid extract-keypoints --checkpoint synth --data data/synth && "
        "keyvid train stage2 --config configs/synth_stage2.yaml --stage1 synth",
    )
    _add_run_arguments(stage2, "stage2")
    stage2.add_argument(
        "--stage1",
        help="stage-1 checkpoint that made the pseudo-labels (sets stage1=...; "
        "recorded so that export pairs the two)",
    )
    stage2.set_defaults(handler=run_stage2)
    classifier = sub.add_parser(
        "classifier",
        help="video action classifier on real videos (the in-domain evaluator)",
        description="Train a small 3-D CNN to recognise the dataset's actions from real "
        "training videos. `keyvid evaluate` uses it for the action accuracy of generated "
        "videos (paper Table 2 protocol) and the in-domain Fréchet distance.",
        epilog="Example: keyvid train classifier --config configs/synth_classifier.yaml "
        "--data data/synth",
    )
    _add_run_arguments(classifier, "classifier")
    classifier.add_argument("--data", help="prepared dataset to train on (sets data.root=...)")
    classifier.set_defaults(handler=run_classifier)


def _add_run_arguments(parser: argparse.ArgumentParser, stage: str) -> None:
    parser.add_argument(
        "--config", type=Path, help="YAML config (configs/*.yaml); default: built-in defaults"
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. optim.lr=1e-3"
    )
    parser.add_argument(
        "--run",
        "--run-dir",
        dest="run",
        type=Path,
        # --run-dir: under torchrun, whose parser takes "--run" for its own --run-path.
        help=f"run folder (default: runs/{stage}-<config name>); --run-dir under torchrun",
    )
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its latest checkpoint",
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        help="stop after this many steps in this call (the schedule is unchanged)",
    )


def run_stage1(args: argparse.Namespace) -> None:
    _run(args, "stage1")


def run_stage2(args: argparse.Namespace) -> None:
    if args.stage1 is not None:
        args.overrides.append(f"stage1={args.stage1}")
    _run(args, "stage2")


def run_classifier(args: argparse.Namespace) -> None:
    if args.data is not None:
        args.overrides.append(f"data.root={args.data}")
    _run(args, "classifier")


def _run(args: argparse.Namespace, stage: str) -> None:
    from keyvid.config import load_config
    from keyvid.training import TRAINERS, resume

    # Under torchrun, rank 0 speaks for the run; the others report only problems.
    rank = os.environ.get("RANK", "0")
    main_rank = rank == "0"
    logging.basicConfig(
        level=logging.INFO if main_rank else logging.WARNING,
        format="%(levelname)s %(message)s"
        if main_rank
        else f"%(levelname)s [rank {rank}] %(message)s",
    )
    if args.resume is not None:
        if args.config is not None:
            raise KeyvidError("--resume reads the run's own config.yaml; drop --config")
        last = resume(args.resume, kind=stage, overrides=args.overrides, max_steps=args.max_steps)
    else:
        config_class, train = TRAINERS[stage]
        config = load_config(config_class, args.config, args.overrides)
        name = args.config.stem if args.config else "default"
        run_dir = args.run or Path("runs") / f"{stage}-{name}"
        last = train(config, run_dir, max_steps=args.max_steps)
    if main_rank:
        print(f"checkpoint: {last}")
