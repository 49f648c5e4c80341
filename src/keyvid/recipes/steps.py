"""The kinds of step a recipe is made of: make data, train, extract pseudo-labels, bundle, evaluate.

Each step writes one folder, ``OUT/<step name>/``, and knows how to say what it does as a
``keyvid`` command line (``describe``), which is what ``keyvid recipe --dry-run`` prints and
what a model's ``meta.json`` records. A training step resumes its own run folder when it
was interrupted: the trainers checkpoint and resume bit-identically.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from keyvid.errors import KeyvidError


@dataclass(frozen=True)
class RecipeContext:
    """What a step sees of the recipe: its folder and how to launch training."""

    out: Path  # the recipe's folder; every step writes OUT/<step name>
    nproc_per_node: int = 1  # > 1: training steps run under torchrun
    progress: bool = True
    tiny: bool = False  # --tiny: the evaluation step reads a few videos only

    def dir(self, step: str) -> Path:
        return self.out / step


@dataclass(frozen=True)
class DataStep:
    """Write a prepared dataset into OUT/<name> with ``make(folder)`` (atomic by itself)."""

    name: str
    command: str  # the equivalent command line ({out} = the recipe folder)
    make: Callable[[Path, bool], object]  # (folder, progress) -> anything
    facts: dict = field(default_factory=dict)  # seeds and sizes, recorded in meta.json

    def describe(self, ctx: RecipeContext) -> str:
        return self.command.replace("{out}", str(ctx.out))

    def run(self, ctx: RecipeContext) -> None:
        folder = ctx.dir(self.name)
        if folder.exists():  # a finished dataset whose step was not recorded: make it again
            shutil.rmtree(folder)
        self.make(folder, ctx.progress)


@dataclass(frozen=True)
class TrainStep:
    """``keyvid train STAGE --config CONFIG OVERRIDES`` into the run folder OUT/<name>."""

    name: str
    stage: str  # stage1 | stage2 | classifier
    config: Path
    overrides: tuple[str, ...]

    def resolved_overrides(self, ctx: RecipeContext) -> list[str]:
        """The overrides with ``{out}`` replaced by the recipe folder."""
        return [o.replace("{out}", str(ctx.out)) for o in self.overrides]

    def argv(self, ctx: RecipeContext, *, resume: bool) -> list[str]:
        run = str(ctx.dir(self.name))
        if resume:  # the run's own config.yaml holds the overrides
            return ["train", self.stage, "--resume", run]
        overrides = self.resolved_overrides(ctx)
        return ["train", self.stage, "--config", str(self.config), *overrides, "--run-dir", run]

    def check_unchanged(self, ctx: RecipeContext, run_dir: Path) -> None:
        """Refuse to resume a run started with other settings than this step asks for now
        (the recipe or its config changed since): it would finish the old run silently.

        Compares what the step sets (its YAML and overrides) with the run's config.yaml;
        settings a trainer fills in itself (stage 2's keypoint count) are not compared, and
        paths inside the recipe folder compare by their place in it (a moved folder is fine).
        """
        import yaml

        from keyvid.config import apply_override, flatten

        asked = yaml.safe_load(self.config.read_text()) or {}
        for item in self.resolved_overrides(ctx):
            apply_override(asked, item)
        saved = flatten(yaml.safe_load((run_dir / "config.yaml").read_text()) or {})
        out = str(ctx.out)
        changed = [
            f"{key}: {saved.get(key)} -> {value}"
            for key, value in flatten(asked).items()
            if not _same_setting(saved.get(key), value, out)
        ]
        if changed:
            raise KeyvidError(
                f"{run_dir} was started with other settings than step {self.name} has now "
                f"({'; '.join(changed[:3])}{' ...' if len(changed) > 3 else ''}); move that "
                "folder aside to train it again, or give the recipe another --out"
            )

    def describe(self, ctx: RecipeContext) -> str:
        argv = self.argv(ctx, resume=False)
        argv[argv.index("--config") + 1] = f"configs/{self.config.name}"  # the repo's, by name
        return "keyvid " + " ".join(argv)

    def run(self, ctx: RecipeContext) -> None:
        run_dir = ctx.dir(self.name)
        resume = _has_checkpoint(run_dir)
        if not resume and run_dir.exists():  # stopped before its first checkpoint: start over
            shutil.rmtree(run_dir)
        if resume:
            self.check_unchanged(ctx, run_dir)
        if ctx.nproc_per_node > 1:
            _torchrun(self.argv(ctx, resume=resume), ctx.nproc_per_node)
        else:
            overrides = self.resolved_overrides(ctx)
            _train_in_process(self, overrides, run_dir, resume=resume, progress=ctx.progress)


@dataclass(frozen=True)
class CallStep:
    """Any other step: a Python call writing into OUT/<name> (pseudo-labels, bundle, report)."""

    name: str
    command: str  # the equivalent command line ({out} = the recipe folder)
    call: Callable[[RecipeContext], object]

    def describe(self, ctx: RecipeContext) -> str:
        return self.command.replace("{out}", str(ctx.out))

    def run(self, ctx: RecipeContext) -> None:
        self.call(ctx)


Step = DataStep | TrainStep | CallStep


def _same_setting(saved: object, asked: object, out: str) -> bool:
    """A saved setting equals an asked one; a path in the recipe folder ``out`` equals the
    same place in the folder the run was started in."""
    if isinstance(asked, str) and isinstance(saved, str) and asked.startswith(out + os.sep):
        return saved.endswith(asked[len(out) :])
    if isinstance(asked, tuple | list) and isinstance(saved, tuple | list):
        return list(asked) == list(saved)
    return saved == asked


def _has_checkpoint(run_dir: Path) -> bool:
    from keyvid.checkpoint import latest_checkpoint

    return (run_dir / "config.yaml").is_file() and latest_checkpoint(
        run_dir / "checkpoints"
    ) is not None


def _train_in_process(
    step: TrainStep, overrides: list[str], run_dir: Path, *, resume: bool, progress: bool
) -> None:
    from keyvid.config import load_config
    from keyvid.training import TRAINERS
    from keyvid.training import resume as resume_run

    if resume:  # the run's own config.yaml holds the overrides
        resume_run(run_dir, kind=step.stage, progress=progress)
        return
    config_class, train = TRAINERS[step.stage]
    train(load_config(config_class, step.config, overrides), run_dir, progress=progress)


def _torchrun(argv: list[str], nproc: int) -> None:
    """``torchrun --standalone --nproc-per-node N -m keyvid ARGV`` in a child process."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command = [*launcher, f"--nproc-per-node={nproc}", "-m", "keyvid", *argv]
    env = {"OMP_NUM_THREADS": "1", **os.environ}  # one thread a process unless told otherwise
    done = subprocess.run(command, env=env)
    if done.returncode != 0:
        raise KeyvidError(
            f"`keyvid {' '.join(argv[:2])}` under torchrun failed (exit status "
            f"{done.returncode}, its messages are above); fix the cause and run the same "
            "recipe command again: finished steps are kept and this one resumes"
        )


def last_metrics(run_dir: Path) -> dict:
    """A run's final figures from its metrics.jsonl: the last row, and the last row of each
    figure logged only now and then (evaluations), with the step it was logged at."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        return {}
    latest: dict[str, dict] = {}
    for row in rows:
        for key, value in row.items():
            if key not in ("step", "time"):
                latest[key] = {"value": value, "step": row["step"]}
    last = rows[-1]
    return {
        "steps": last["step"],
        "seconds": last.get("time"),
        "final": {k: v["value"] for k, v in latest.items() if v["step"] == last["step"]},
        "latest": {k: v for k, v in latest.items() if v["step"] != last["step"]},
    }
