"""Self-describing, crash-safe checkpoints.

A checkpoint is a folder::

    step_00001000/
      model.safetensors      every network's weights, keys prefixed "<network>."
      config.yaml            the resolved config that built the networks
      meta.json              kind ("stage1", ...), step, keyvid version
      training_state.pt      optimiser states and RNG state (absent in shipped models)

It is written to a temporary folder, fsync'ed and renamed into place, so a
crash or ``kill -9`` at any moment leaves either the previous checkpoint or the
new one, never a torn one. ``training_state.pt`` holds only tensors and plain
containers and is read with ``weights_only=True``: loading never runs code.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from keyvid._version import __version__
from keyvid.errors import KeyvidError, first_line

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
# What inference needs of each kind of checkpoint (no optimiser state, no discriminator).
INFERENCE_NETWORKS = {"stage1": ("detector", "translator"), "classifier": ("action_classifier",)}


@dataclass
class Checkpoint:
    path: Path
    kind: str
    step: int
    config: dict
    weights: dict[str, torch.Tensor]

    def state_dict(self, prefix: str) -> dict[str, torch.Tensor]:
        """The weights of one network (keys without ``prefix.``)."""
        p = prefix + "."
        return {k[len(p) :]: v for k, v in self.weights.items() if k.startswith(p)}

    def training_state(self) -> dict:
        path = self.path / "training_state.pt"
        if not path.exists():
            raise KeyvidError(
                f"{self.path} holds no training state (a shipped model?); cannot resume from it"
            )
        try:
            # weights_only: tensors and plain containers only; a pickle that would run
            # code (or anything else) is refused, not executed.
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # unpickling errors come as many types
            raise KeyvidError(
                f"{path} is not a readable keyvid training state ({first_line(e)}); resume from "
                "another checkpoint of the run or start again"
            ) from e


def save_checkpoint(
    folder: Path,
    *,
    kind: str,
    step: int,
    networks: dict[str, nn.Module],
    config: dict,
    training_state: dict | None = None,
    keep: int = 3,
) -> Path:
    """Write ``folder/step_<step>`` atomically and keep only the newest ``keep`` checkpoints."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step_{step:08d}"
    tmp = folder / f".step_{step:08d}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    weights = {
        f"{name}.{key}": value.detach().cpu().contiguous()
        for name, net in networks.items()
        for key, value in net.state_dict().items()
    }
    save_file(weights, tmp / "model.safetensors")
    (tmp / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    meta = {"kind": kind, "step": step, "keyvid_version": __version__}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    if training_state is not None:
        torch.save(training_state, tmp / "training_state.pt")
    for f in tmp.iterdir():
        _fsync(f)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync(folder)
    for old in sorted(folder.glob("step_*"))[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete ``step_*`` folder under ``folder`` (temporary ones are ignored)."""
    found = sorted(p for p in folder.glob("step_*") if (p / "meta.json").exists())
    return found[-1] if found else None


def resolve_checkpoint(name_or_path: str | Path) -> Path:
    """A checkpoint folder from a path, a run folder (its latest checkpoint) or a shipped name."""
    path = Path(name_or_path)
    if (path / "meta.json").exists():
        return path
    if (path / "checkpoints").is_dir():
        latest = latest_checkpoint(path / "checkpoints")
        if latest is not None:
            return latest
    shipped = PRETRAINED_DIR / str(name_or_path)
    if "/" not in str(name_or_path) and (shipped / "meta.json").exists():
        return shipped
    names = sorted(p.name for p in PRETRAINED_DIR.glob("*") if (p / "meta.json").exists())
    raise KeyvidError(
        f"no checkpoint at {name_or_path}: give a checkpoint folder, a run folder"
        + (f" or a shipped model name ({', '.join(names)})" if names else "")
    )


def read_meta(name_or_path: str | Path) -> dict:
    """A checkpoint's ``meta.json`` (kind, step, ...) without reading its weights."""
    path = resolve_checkpoint(name_or_path)
    try:
        return json.loads((path / "meta.json").read_text())
    except (OSError, ValueError) as e:
        raise KeyvidError(f"{path} is not a readable keyvid checkpoint ({e})") from e


def load_checkpoint(name_or_path: str | Path, kind: str | None = None) -> Checkpoint:
    """Read a checkpoint's config, metadata and weights (safetensors only)."""
    path = resolve_checkpoint(name_or_path)
    meta = read_meta(path)
    try:
        config = yaml.safe_load((path / "config.yaml").read_text())
        weights = load_file(path / "model.safetensors")
    except (OSError, ValueError, yaml.YAMLError, SafetensorError) as e:
        raise KeyvidError(f"{path} is not a readable keyvid checkpoint ({e})") from e
    if kind is not None and meta.get("kind") != kind:
        raise KeyvidError(f"{path} is a {meta.get('kind')!r} checkpoint, expected {kind!r}")
    return Checkpoint(path, meta["kind"], int(meta["step"]), config, weights)


def export_checkpoint(source: str | Path, dest: Path, *, networks: tuple[str, ...]) -> Path:
    """Copy the inference part of a checkpoint (chosen networks, config, meta) to ``dest``.

    This is how a shipped model is made: no optimiser state, no discriminator.
    """
    ckpt = load_checkpoint(source)
    present = sorted({k.split(".", 1)[0] for k in ckpt.weights})
    missing = [n for n in networks if n not in present]
    if missing:
        raise KeyvidError(
            f"{ckpt.path} has no {', '.join(missing)} weights; it has {', '.join(present)}"
        )
    weights = {k: v for k, v in ckpt.weights.items() if k.split(".", 1)[0] in networks}
    return write_model_folder(
        dest,
        weights=weights,
        config=ckpt.config,
        kind=ckpt.kind,
        step=ckpt.step,
        source=str(ckpt.path),
    )


def write_model_folder(
    dest: Path, *, weights: dict[str, torch.Tensor], config: dict, kind: str, step: int, source: str
) -> Path:
    """Write an inference-only checkpoint folder (weights, config, meta) atomically to ``dest``."""
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(weights, tmp / "model.safetensors")
    (tmp / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    meta = {"kind": kind, "step": step, "keyvid_version": __version__, "source": source}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return dest


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
