"""The package's layers stay layers: no two subpackages import each other (imports inside
functions included), and running a pipeline imports nothing of training (issue 21)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import keyvid

PACKAGE = Path(keyvid.__file__).resolve().parent


def room(module: str) -> str:
    """``keyvid.training.harness.loop`` -> ``training``; ``keyvid.checkpoint`` -> ``checkpoint``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every ``keyvid.*`` module ``path`` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("keyvid.")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "keyvid":  # from keyvid import x: x is a room or a name
                found |= {f"keyvid.{a.name}" for a in node.names}
            elif node.module.startswith("keyvid."):
                found.add(node.module)
    return found


def room_graph() -> dict[str, dict[str, list[str]]]:
    """room -> {room it imports: [the importing modules]}; the package root (the public
    facade) is left out."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        if source == "keyvid":
            continue
        for target in imported_modules(path):
            if room(target) != room(source) and room(target) != "keyvid":
                graph[room(source)][room(target)].append(source)
    return graph


def test_no_two_rooms_import_each_other():
    graph = room_graph()
    mutual = [
        f"{a} <-> {b} ({graph[a][b][0]} and {graph[b][a][0]})"
        for a in graph
        for b in graph[a]
        if a < b and a in graph.get(b, {})
    ]
    assert not mutual, "subpackages importing each other: " + "; ".join(mutual)


def test_the_rooms_form_layers():
    # No cycle through any number of rooms either: a topological order exists.
    graph = {a: set(bs) for a, bs in room_graph().items()}
    order, done = [], set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, "import cycle: " + " -> ".join([*path, node])
        if node not in done:
            for nxt in sorted(graph.get(node, ())):
                visit(nxt, (*path, node))
            done.add(node)
            order.append(node)

    for node in sorted(graph):
        visit(node, ())
    assert order.index("training") > order.index("checkpoint")


def test_the_graph_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from keyvid.training.stage1 import train_stage1\n")
    assert imported_modules(source) == {"keyvid.training.stage1"}


def test_running_a_pipeline_imports_nothing_of_training():
    code = (
        "import sys, numpy as np, keyvid\n"
        "pipe = keyvid.Pipeline.from_pretrained('synth')\n"
        "image = np.full((64, 64, 3), 128, dtype=np.uint8)\n"
        "pipe(image, action='squats', frames=2, seed=0)\n"
        "print(sorted(m for m in sys.modules if m.startswith('keyvid.training')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
