"""examples/quickstart.ipynb, the notebook a new user opens first: committed without
outputs, and run top to bottom here (in a Jupyter kernel of this Python, in a temporary
folder) so that it cannot rot."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from keyvid.pipeline.generate import Pipeline

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"
CELL_TIMEOUT = 300  # s; the whole notebook takes about a minute on a busy 2-core CPU
MISSING = (
    "running {notebook} needs nbclient, nbformat and ipykernel, which the dev extra "
    'installs: pip install -e ".[dev]" ({error})'
)


def test_committed_notebook_has_no_outputs():
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code, "the notebook has no code cells"
    for index, cell in enumerate(notebook["cells"]):
        where = f"{NOTEBOOK.name} cell {index}"
        assert "execution" not in cell.get("metadata", {}), f"{where} keeps execution times"
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{where} has outputs: clear them before committing"
            assert cell["execution_count"] is None, f"{where} has an execution count"
    assert "widgets" not in notebook["metadata"], "the notebook keeps widget state"


def test_quickstart_notebook_runs_top_to_bottom(tmp_path):
    try:
        import ipykernel  # noqa: F401  (the kernel runs it: fail here, saying why)
        import nbformat
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import AsyncKernelManager
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError
    except ImportError as error:
        pytest.fail(MISSING.format(notebook=NOTEBOOK.name, error=error))

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    work = tmp_path / "work"  # the notebook writes ./quickstart/ here, not in the repo
    work.mkdir()
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        km=_kernel_manager(tmp_path / "kernels", KernelSpecManager, AsyncKernelManager),
        resources={"metadata": {"path": str(work)}},
    )
    env = dict(os.environ)  # the suite's numerics switches (tests/conftest.py) carry over
    env["OMP_NUM_THREADS"] = os.environ.get("KEYVID_TEST_THREADS", "1")
    start = time.perf_counter()
    try:
        client.execute(env=env, cleanup_kc=True)  # km is ours: shut it down
    except CellTimeoutError as error:
        pytest.fail(f"a cell of {NOTEBOOK.name} ran past {CELL_TIMEOUT} s:\n{error}")
    except CellExecutionError as error:
        pytest.fail(f"a cell of {NOTEBOOK.name} raised an error:\n{error}")
    except Exception as error:  # no kernel: it did not start, or died
        pytest.fail(
            f"the Jupyter kernel ({sys.executable} -m ipykernel_launcher) could not run "
            f"{NOTEBOOK.name}: {type(error).__name__}: {error}. Is ipykernel installed in "
            'this environment (pip install -e ".[dev]")?'
        )
    seconds = time.perf_counter() - start
    print(f"{NOTEBOOK.name} ran in {seconds:.0f} s")

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "a code cell did not run"
    outputs = [output for cell in code for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"the notebook prints warnings or errors a new user would see: {stderr}"

    # Every action: one looping GIF of the input and 32 generated frames, and its file.
    actions = Pipeline.from_pretrained("synth").actions
    gifs = _images(_cell(code, "for action in pipe.actions"), "image/gif")
    assert len(gifs) == len(actions) == 9
    for gif in gifs:
        assert gif.format == "GIF" and gif.n_frames == 33 and gif.info.get("loop") == 0
    for action in actions:
        assert (work / "quickstart" / f"{action}.gif").is_file(), action

    # The keypoints drawn on the image, and the edit (input, one keypoint, all moved).
    (drawn,) = _images(_cell(code, "pipe.detect(image)"), "image/png")
    assert drawn.size == (256, 256)
    (edit,) = _images(_cell(code, "pipe.edit("), "image/png")
    assert edit.width > 3 * 256

    # The evaluation: a table of the rows, the report files and the example videos.
    evaluation = _cell(code, "evaluate_model(")
    tables = [
        o.data["text/markdown"] for o in evaluation.outputs if "text/markdown" in o.get("data", {})
    ]
    assert len(tables) == 1 and "| Ours |" in tables[0] and "| Real videos |" in tables[0]
    (examples,) = _images(evaluation, "image/gif")
    assert examples.n_frames > 1
    metrics = json.loads((work / "quickstart" / "eval" / "metrics.json").read_text())
    assert metrics["num_videos"] == 3 and metrics["checkpoint"] == "synth"
    assert (work / "quickstart" / "eval" / "report.md").is_file()


def _kernel_manager(folder: Path, spec_manager, manager):
    """A kernel manager whose ``python3`` kernel is this Python (the venv's), whatever
    kernels the machine has installed elsewhere."""
    spec = folder / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Python 3", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    specs = spec_manager(kernel_dirs=[str(folder)])
    return manager(kernel_name="python3", kernel_spec_manager=specs)


def _cell(cells, marker: str):
    """The one code cell whose source holds ``marker``."""
    found = [cell for cell in cells if marker in cell.source]
    assert len(found) == 1, f"{len(found)} cells of {NOTEBOOK.name} hold {marker!r}"
    return found[0]


def _images(cell, mime: str) -> list[Image.Image]:
    """The cell's displayed images of type ``mime``, decoded."""
    data = [o.data[mime] for o in cell.outputs if mime in o.get("data", {})]
    return [Image.open(io.BytesIO(base64.b64decode(d))) for d in data]
