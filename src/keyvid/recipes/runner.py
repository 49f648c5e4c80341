"""Run a recipe: each step in OUT/<step>/, finished steps skipped, an interrupted one resumed.

OUT/recipe.json holds what was asked (recipe, --tiny, --src), the record that goes into
every bundle's meta.json (command, commit, data seeds, the steps as command lines), and the
steps finished so far. It is rewritten atomically after every step, so a rerun of the same
command after a crash or Ctrl-C continues where the last one stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from keyvid._version import __version__
from keyvid.errors import KeyvidError
from keyvid.recipes.book import RecipeOptions, recipe_steps
from keyvid.recipes.bundle import STATE_FILE
from keyvid.recipes.steps import DataStep, RecipeContext, Step


def run_recipe(
    name: str,
    out: str | Path,
    *,
    tiny: bool = False,
    src: str | Path | None = None,
    nproc_per_node: int = 1,
    progress: bool = True,
    log=print,
) -> Path:
    """Run the recipe ``name`` into ``out``; returns OUT/model (what ``--checkpoint`` takes)."""
    if nproc_per_node < 1:
        raise KeyvidError(f"--nproc-per-node must be at least 1, got {nproc_per_node}")
    options = RecipeOptions(name, tiny, Path(src).resolve() if src is not None else None)
    steps = recipe_steps(options)
    if options.src is not None and not options.src.exists():
        raise KeyvidError(f"--src {src} does not exist")
    ctx = RecipeContext(Path(out).resolve(), nproc_per_node, progress, tiny)
    state = _start(ctx.out, options, steps, ctx)
    for i, step in enumerate(steps, 1):
        head = f"[{i}/{len(steps)}] {step.name}"
        if step.name in state["finished"]:
            log(f"{head}: done before, skipped")
            continue
        log(f"{head}: {step.describe(ctx)}")
        start = time.time()
        step.run(ctx)
        state["finished"][step.name] = {
            "seconds": round(time.time() - start, 1),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _write_state(ctx.out, state)
    log(f"recipe {name} finished: the model is {ctx.dir('model')}")
    return ctx.dir("model")


def describe_recipe(name: str, *, tiny: bool = False, src: str | Path | None = None) -> list[str]:
    """The recipe's steps as command lines over OUT (what --dry-run prints)."""
    options = RecipeOptions(name, tiny, Path(src) if src is not None else None)
    ctx = RecipeContext(Path("OUT"))
    return [f"{s.name}: {s.describe(ctx)}" for s in recipe_steps(options)]


def _start(out: Path, options: RecipeOptions, steps: list[Step], ctx: RecipeContext) -> dict:
    """Read OUT/recipe.json (refusing other options) or start a new one."""
    src = str(options.src) if options.src is not None else None
    asked = {"name": options.name, "tiny": options.tiny, "src": src}
    path = out / STATE_FILE
    if path.is_file():
        state = json.loads(path.read_text())
        if state["options"] != asked:
            raise KeyvidError(
                f"{out} holds recipe {_command(state['options'])}; rerun that command to "
                "continue it, or choose another --out"
            )
        return _continued(state, _record(asked, options, steps, ctx), out)
    if out.exists() and any(out.iterdir()):
        raise KeyvidError(f"{out} exists and is not a recipe folder; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    state = {"options": asked, "recipe": _record(asked, options, steps, ctx), "finished": {}}
    _write_state(out, state)
    return state


def _continued(state: dict, record: dict, out: Path) -> dict:
    """The state of a recipe run again: refused when a finished step's command changed since
    (the model would mix two recipes); otherwise its record takes the steps as they are
    now, and the commit of every run that worked on it (``commits``, the last in ``commit``)."""
    before = state["recipe"]
    for name in state["finished"]:
        old, new = before["steps"].get(name), record["steps"].get(name)
        if old != new:
            raise KeyvidError(
                f"the recipe changed since {out} was started: its finished step {name} was "
                f"`{old}` and is now `{new}`; give the recipe another --out"
            )
    commits = before.get("commits", [before.get("commit")])
    if commits[-1] != record["commit"]:
        commits = [*commits, record["commit"]]
    if len(commits) > 1:
        record = {**record, "commits": commits}
    if record != before:
        state["recipe"] = record
        _write_state(out, state)
    return state


def _record(asked: dict, options: RecipeOptions, steps: list[Step], ctx: RecipeContext) -> dict:
    """What a bundle's meta.json says of how it was made: no path of this machine."""

    def generic(text: str) -> str:
        text = text.replace(str(ctx.out), "OUT")
        return text.replace(str(options.src), "SRC") if options.src is not None else text

    return {
        "name": options.name,
        "command": _command(asked),
        "keyvid_version": __version__,
        "commit": _commit(),
        "data": {s.name: s.facts for s in steps if isinstance(s, DataStep)},
        "steps": {s.name: generic(s.describe(ctx)) for s in steps},
    }


def _command(options: dict) -> str:
    command = f"keyvid recipe {options['name']} --out OUT"
    if options["src"] is not None:
        command += " --src SRC"
    return command + (" --tiny" if options["tiny"] else "")


def _commit() -> str | None:
    """The source checkout's commit (with ``-dirty`` when it has uncommitted changes)."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        )
    except OSError:  # no git on this machine
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _write_state(out: Path, state: dict) -> None:
    tmp = out / f".{STATE_FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, out / STATE_FILE)
