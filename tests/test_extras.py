"""A missing optional extra is one ``error:`` line naming it, before any work: simulated
by a None in ``sys.modules`` (which makes ``import`` raise ModuleNotFoundError)."""

from __future__ import annotations

import importlib
import logging
import re
import sys
import tomllib

import pytest

from keyvid.cli import main
from keyvid.errors import KeyvidError
from keyvid.extras import EXTRAS, require
from tests.conftest import PROJECT_ROOT


def test_extras_are_the_ones_pyproject_declares():
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    declared = pyproject["project"]["optional-dependencies"]
    declared.pop("dev")
    assert {name: [re.split("[<>=~!]", r)[0] for r in reqs] for name, reqs in declared.items()} == {
        name: list(extra.modules) for name, extra in EXTRAS.items()
    }


def test_require_passes_when_the_modules_import():
    require("penn", "json")  # a module that is always there


def test_a_missing_module_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(KeyvidError) as e:
        require("onnx", "json", "onnxruntime")
    assert str(e.value) == (
        "ONNX export (`keyvid export --format onnx`) needs onnxruntime (not installed): "
        "pip install 'keyvid[onnx]'"
    )


def test_a_broken_install_says_why(monkeypatch):
    real = importlib.import_module

    def broken(name, *args):
        if name == "gradio":
            raise ImportError("cannot import name 'x' from 'huggingface_hub'\nmore")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(KeyvidError, match=r"needs gradio \(gradio: cannot import name 'x' from "):
        require("web")


def penn_like(tmp_path):
    """Penn Action's layout with a few of the split's videos (their content is never read)."""
    src = tmp_path / "Penn_Action"
    for video_id in ("0001", "1150", "1858"):
        (src / "frames" / video_id).mkdir(parents=True)
        (src / "labels").mkdir(exist_ok=True)
        (src / "labels" / f"{video_id}.mat").write_bytes(b"")
    return src


def cases(tmp_path):
    """Per extra: the module to hide and a command that needs it (writing to tmp/out)."""
    out = tmp_path / "out"
    src = penn_like(tmp_path)
    return {
        "penn": ("scipy", ["data", "prepare", "penn", "--src", str(src), "--out", str(out)]),
        "web": ("gradio", ["serve"]),
        "onnx": ("onnx", ["export", "synth", str(out), "--format", "onnx"]),
    }


@pytest.mark.parametrize("extra", ["penn", "web", "onnx"])
def test_a_command_without_its_extra_is_one_error_line(
    extra, tmp_path, monkeypatch, capsys, caplog
):
    module, args = cases(tmp_path)[extra]
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setitem(sys.modules, "keyvid.web", None)  # `serve` stops at the check, not here
    with caplog.at_level(logging.WARNING):
        assert main(args) == 2
    out, err = capsys.readouterr()
    assert err == f"error: {EXTRAS[extra].feature} needs {module} (not installed): " + (
        f"pip install 'keyvid[{extra}]'\n"
    )
    assert not out and not caplog.records  # no warning per video, no progress
    assert not (tmp_path / "out").exists()
