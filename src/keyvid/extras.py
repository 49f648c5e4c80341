"""The optional extras of ``pyproject.toml`` and :func:`require`, the check a command or
API function makes before any work: one :class:`~keyvid.errors.KeyvidError` naming the
extra to install, instead of a failure (or a warning per video) half-way through."""

from __future__ import annotations

import importlib
from typing import NamedTuple

from keyvid.errors import KeyvidError, first_line

NOT_INSTALLED = "not installed"


class Extra(NamedTuple):
    modules: tuple[str, ...]  # what ``pip install 'keyvid[<extra>]'`` installs, as imported
    feature: str  # what needs it, as an error message names it


EXTRAS = {
    "penn": Extra(("scipy",), "reading Penn Action's labels (`keyvid data prepare penn`)"),
    "onnx": Extra(("onnx", "onnxruntime"), "ONNX export (`keyvid export --format onnx`)"),
    "web": Extra(("gradio", "gradio_client"), "the web page (`keyvid serve`)"),
}


def import_problem(module: str) -> str | None:
    """Why ``module`` cannot be imported (``"not installed"`` or the error's first
    line), or None when it imports."""
    try:
        importlib.import_module(module)
    except ImportError as e:
        absent = isinstance(e, ModuleNotFoundError) and e.name == module
        return NOT_INSTALLED if absent else first_line(e)
    return None


def require(extra: str, *modules: str) -> None:
    """Raise KeyvidError naming ``pip install 'keyvid[<extra>]'`` unless ``modules``
    (default: all of the extra's) import."""
    spec = EXTRAS[extra]
    problems = {m: p for m in modules or spec.modules if (p := import_problem(m)) is not None}
    if problems:
        why = "; ".join(f"{m}: {p}" for m, p in problems.items())
        if set(problems.values()) == {NOT_INSTALLED}:
            why = NOT_INSTALLED
        raise KeyvidError(
            f"{spec.feature} needs {' and '.join(problems)} ({why}): pip install 'keyvid[{extra}]'"
        )
