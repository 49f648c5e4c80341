"""``keyvid recipe``: make a whole model with one command (data, training, bundles, evaluation)."""

from __future__ import annotations

import argparse
from pathlib import Path

RECIPE_NAMES = ("synth", "penn", "nemo", "mgif", "folder")


def add_parser(commands: argparse._SubParsersAction) -> None:
    recipe = commands.add_parser(
        "recipe",
        help="make a whole model: data, stage 1, pseudo-labels, stage 2, bundle, evaluation",
        description="Run every step that makes a model, each in OUT/<step>/, the model in "
        "OUT/model (what --checkpoint takes) and its evaluation on the test split in "
        "OUT/evaluation. `synth` is how the shipped synth models are made; penn, nemo, mgif "
        "(First Order Motion Model layout) and folder (your videos) prepare --src and train "
        "it with configs/<name>.yaml. Running the same command again skips finished steps "
        "and resumes an interrupted one.",
        epilog="Examples: keyvid recipe synth --out recipes/synth --tiny (a few minutes on a "
        "CPU); keyvid recipe penn --src PATH/Penn_Action --out recipes/penn --nproc-per-node 8",
    )
    recipe.add_argument("name", choices=RECIPE_NAMES, help="which model to make")
    recipe.add_argument("--out", type=Path, help="recipe folder (required unless --dry-run)")
    recipe.add_argument(
        "--src", type=Path, help="the dataset to prepare (penn, nemo, mgif, folder)"
    )
    recipe.add_argument(
        "--tiny",
        action="store_true",
        help="tiny data, networks and step counts: checks the chain in minutes, not a model",
    )
    recipe.add_argument(
        "--nproc-per-node",
        type=int,
        default=1,
        metavar="N",
        help="run the training steps under torchrun with N processes (default: 1, in process)",
    )
    recipe.add_argument(
        "--dry-run", action="store_true", help="print the steps as keyvid commands and stop"
    )
    recipe.set_defaults(
        handler=run_recipe_command,
        # after Ctrl-C or SIGTERM: the recipe, not the training run, is what to restart
        resume_hint="run the same keyvid recipe command again to continue from it",
    )


def run_recipe_command(args: argparse.Namespace) -> None:
    import logging

    from keyvid.errors import KeyvidError
    from keyvid.recipes import describe_recipe, run_recipe

    if args.dry_run:
        for line in describe_recipe(args.name, tiny=args.tiny, src=args.src):
            print(line)
        return
    if args.out is None:
        raise KeyvidError("give the recipe folder with --out DIR")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    run_recipe(
        args.name, args.out, tiny=args.tiny, src=args.src, nproc_per_node=args.nproc_per_node
    )
