"""The recipe steps that are not training: pseudo-labels, model bundles, the final evaluation.

A bundle (OUT/model, OUT/model-no-action, OUT/model-classifier) is what ``--checkpoint``
takes and what ships. It must say how it was made and name no path of the machine that
built it: paths inside the recipe folder are written relative to it, any other path by its
file name; ``meta.json`` records the recipe, its command, the commit and the data seeds;
``training_summary.json`` holds the final metrics of every training step behind it.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from keyvid.recipes.steps import RecipeContext, last_metrics

STATE_FILE = "recipe.json"  # OUT/recipe.json: the recipe's options and finished steps


def extract_pseudo_labels(ctx: RecipeContext, *, stage1: str) -> None:
    """Pseudo-labels of OUT/data by the detector of the run OUT/<stage1>."""
    from keyvid.models.load import load_stage1
    from keyvid.pipeline.pseudolabels import extract_keypoints

    model, ckpt = load_stage1(ctx.dir(stage1))
    source = {"checkpoint": relative(ckpt.path, ctx.out), "step": ckpt.step}
    extract_keypoints(
        model.detector, ctx.dir("data"), name="stage1", source=source, progress=ctx.progress
    )


def bundle_model(
    ctx: RecipeContext, *, name: str, trained_by: tuple[str, ...], stage1: str | None
) -> Path:
    """Export the run OUT/<trained_by[-1]> to OUT/<name>: a motion model with the stage 1
    OUT/<stage1>, or the inference networks of any other run."""
    from keyvid.checkpoint import INFERENCE_NETWORKS, export_checkpoint, read_meta
    from keyvid.pipeline.loading import export_pipeline

    source = ctx.dir(trained_by[-1])
    dest = ctx.dir(name)
    if stage1 is not None:
        export_pipeline(source, dest, stage1=ctx.dir(stage1))
    else:
        export_checkpoint(source, dest, networks=INFERENCE_NETWORKS[read_meta(source)["kind"]])
    _describe_bundle(ctx, dest, trained_by)
    return dest


def evaluate_bundle(
    ctx: RecipeContext,
    *,
    data: str,
    model: str = "model",
    out: str = "evaluation",
    classifier: str | None,
    no_action: str | None,
) -> dict:
    """``keyvid evaluate`` of OUT/<model> on OUT/<data>'s test split, into OUT/<out>."""
    from keyvid.evaluation.report import evaluate_model

    optional = {"classifier": classifier, "no_action": no_action}
    companions = {k: ctx.dir(v) for k, v in optional.items() if v is not None}
    return evaluate_model(
        ctx.dir(model),
        ctx.dir(data),
        ctx.dir(out),
        max_videos=9 if ctx.tiny else None,
        max_train_frames=200 if ctx.tiny else 8000,
        progress=ctx.progress,
        **companions,
    )


def _describe_bundle(ctx: RecipeContext, dest: Path, trained_by: tuple[str, ...]) -> None:
    """Rewrite meta.json and config.yaml without machine paths; add training_summary.json."""
    state = read_state(ctx.out)
    summary = {s: last_metrics(ctx.dir(s)) for s in trained_by}
    meta = json.loads((dest / "meta.json").read_text())
    meta["source"] = f"keyvid recipe {state['options']['name']}: " + ", ".join(
        f"{s} (step {m.get('steps')})" for s, m in summary.items()
    )
    meta["recipe"] = state["recipe"]
    (dest / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    config = yaml.safe_load((dest / "config.yaml").read_text())
    (dest / "config.yaml").write_text(
        yaml.safe_dump(without_machine_paths(config, ctx.out), sort_keys=False)
    )
    (dest / "training_summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def without_machine_paths(value, root: Path):
    """``value`` (nested dicts / lists) with every absolute path made relative to ``root``
    when inside it, else reduced to its file name."""
    if isinstance(value, dict):
        return {k: without_machine_paths(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [without_machine_paths(v, root) for v in value]
    if isinstance(value, str) and value.startswith("/"):
        return relative(Path(value), root)
    return value


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it, else its file name."""
    path, root = Path(path).resolve(), Path(root).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name


def read_state(out: Path) -> dict:
    return json.loads((Path(out) / STATE_FILE).read_text())
