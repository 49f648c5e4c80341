"""How long `keyvid recipe NAME --tiny` takes as a whole process, first run and rerun.

The issue-20 targets: the tiny synth chain under 15 minutes on 2 cores, a rerun (every
step finished) under a minute. Each run is a fresh `keyvid` process, as a user runs it.

    python -m benchmarks.recipe_tiny [--recipe synth]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_table, write_result


def timed_run(recipe: str, out: Path) -> tuple[float, list[str]]:
    """Seconds of one `keyvid recipe RECIPE --out OUT --tiny` process, and its step lines."""
    command = [sys.executable, "-m", "keyvid", "recipe", recipe, "--out", str(out), "--tiny"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    steps = [line for line in done.stdout.splitlines() if line.startswith("[")]
    return time.perf_counter() - start, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="synth", choices=("synth",))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / args.recipe
        first, steps = timed_run(args.recipe, out)
        again, skipped = timed_run(args.recipe, out)
    assert all(line.endswith("skipped") for line in skipped), skipped
    rows = [
        {"run": "first (every step)", "steps": len(steps), "seconds": round(first, 1),
         "target": "< 900 s", "met": first < 900},
        {"run": "again (all skipped)", "steps": len(skipped), "seconds": round(again, 1),
         "target": "< 60 s", "met": again < 60},
    ]  # fmt: skip
    print_table(rows, ["run", "steps", "seconds", "target", "met"])
    write_result(f"recipe_tiny_{args.recipe}", rows)


if __name__ == "__main__":
    main()
