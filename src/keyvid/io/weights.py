"""Reading and checking user-given weight files (``torch.save`` state dicts).

Pretrained networks (VGG-19 for the perceptual loss, I3D for FVD) are not bundled: the user
points at a file. These helpers read it safely (``torch.load(weights_only=True)``, on the
CPU) and check it against the keys and shapes a model expects, so that every problem ends
as a one-line :class:`KeyvidError` naming the file, the first problem and a hint on where
the right file comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from keyvid.errors import KeyvidError, first_line

UNREADABLE = "is not a torch.save state dict file"


def require_file(path: Path, *, what: str, hint: str) -> None:
    """Raise :class:`KeyvidError` unless ``path`` is an existing file.

    ``what`` names the weights in the message (``"VGG-19 weights"``); ``hint`` ends it and
    says how to get the right file.
    """
    if not path.is_file():
        problem = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise KeyvidError(f"{what} {path} {problem}; {hint}")


def read_state_dict_file(
    path: Path, *, what: str, hint: str, unreadable: str = UNREADABLE
) -> Mapping[str, object]:
    """Read a ``torch.save`` state dict from ``path`` with ``torch.load(weights_only=True)``.

    Tensors are mapped to the CPU. The common wrapper ``{"state_dict": {...}}`` is unwrapped,
    and a ``module.`` prefix on every key (a model saved from ``nn.DataParallel``) is
    stripped. A missing file, a file ``torch.load`` cannot read (``unreadable`` then says
    what it is not, after the path) or one that holds something other than a mapping raises
    :class:`KeyvidError` with a one-line message ``"{what} {path} ...; {hint}"``. Keys and
    values are not checked: see :func:`check_state_dict`.
    """
    require_file(path, what=what, hint=hint)
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # pickle, zip and weights_only errors come as many types
        raise KeyvidError(f"{what} {path} {unreadable} ({first_line(exc)}); {hint}") from exc
    # Accept the common wrapper {"state_dict": {...}} as well as a bare state dict.
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise KeyvidError(f"{what} {path} hold a {type(obj).__name__}, not a state dict; {hint}")
    keys = [k for k in obj if isinstance(k, str)]
    if keys and all(k.startswith("module.") for k in keys):  # saved from nn.DataParallel
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
    return obj


def check_state_dict(
    state: Mapping[str, object],
    expected: Mapping[str, tuple[int, ...]],
    *,
    path: Path,
    what: str,
    hint: str,
    model: str | None = None,
    optional: frozenset[str] = frozenset(),
) -> dict[str, torch.Tensor]:
    """Check that ``state`` holds exactly the tensors ``expected`` names, with their shapes.

    ``expected`` maps each required key to its shape; keys in ``optional`` may be present
    or absent (their values are not checked). The first missing key, non-tensor value,
    wrong shape or unexpected key raises :class:`KeyvidError` with a one-line message
    ``"{what} {path}: ...; {hint}"``; ``model``, when given, names the network the file
    should hold (``"torchvision's vgg19"``) in the messages on keys and shapes. Returns the
    required tensors, keyed as in ``expected``.
    """
    expects = f"; expected the state dict of {model}" if model else ""
    tensors: dict[str, torch.Tensor] = {}
    for key, shape in expected.items():
        if key not in state:
            raise KeyvidError(
                f"{what} {path}: missing key {key} ({len(state)} keys found){expects}; {hint}"
            )
        value = state[key]
        if not isinstance(value, torch.Tensor):
            raise KeyvidError(
                f"{what} {path}: {key} is a {type(value).__name__}, not a tensor; {hint}"
            )
        if tuple(value.shape) != tuple(shape):
            of = f" for {model}" if model else ""
            raise KeyvidError(
                f"{what} {path}: {key} has shape {tuple(value.shape)}, expected {tuple(shape)}"
                f"{of}; {hint}"
            )
        tensors[key] = value
    unexpected = sorted(str(k) for k in state if k not in expected and k not in optional)
    if unexpected:
        raise KeyvidError(
            f"{what} {path}: unexpected key {unexpected[0]} ({len(unexpected)} in all)"
            f"{expects}; {hint}"
        )
    return tensors
