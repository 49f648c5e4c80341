"""Continue a run folder: its own ``config.yaml`` and the trainer of its checkpoints' kind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from keyvid.checkpoint import latest_checkpoint, read_meta
from keyvid.config import load_config
from keyvid.errors import KeyvidError
from keyvid.training.classifier import train_classifier
from keyvid.training.config import ClassifierConfig, Stage1Config, Stage2Config
from keyvid.training.stage1 import train_stage1
from keyvid.training.stage2 import train_stage2

# kind of run -> (its config class, its trainer)
TRAINERS: dict[str, tuple[type, Callable[..., Path]]] = {
    "stage1": (Stage1Config, train_stage1),
    "stage2": (Stage2Config, train_stage2),
    "classifier": (ClassifierConfig, train_classifier),
}


def resume(
    run_dir: str | Path,
    *,
    kind: str | None = None,
    overrides: list[str] = (),
    max_steps: int | None = None,
    progress: bool = True,
) -> Path:
    """Continue the run in ``run_dir`` from its latest checkpoint; returns the last one.

    ``kind`` (stage1, stage2, classifier) is read from the checkpoints when not given;
    ``overrides`` change the saved config (not its ``model.*``, which the weights fix).
    """
    run_dir = Path(run_dir)
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        raise KeyvidError(f"{run_dir} is not a run folder (no config.yaml); check the path")
    if kind is None:
        latest = latest_checkpoint(run_dir / "checkpoints")
        if latest is None:
            raise KeyvidError(f"{run_dir} has no checkpoint yet; start it again instead")
        kind = read_meta(latest)["kind"]
    if kind not in TRAINERS:
        raise KeyvidError(f"unknown kind of run {kind!r}; expected one of {', '.join(TRAINERS)}")
    config_class, train = TRAINERS[kind]
    config = load_config(config_class, saved, list(overrides))
    return train(config, run_dir, resume=True, max_steps=max_steps, progress=progress)
