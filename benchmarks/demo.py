"""`keyvid demo` end to end: wall time and the size of every file it writes (issue 24).

Runs `python -m keyvid demo --out TMP` (the command's defaults: the shipped synth
model, 3 actors, 2 samples, 32 frames) --runs times, each in a fresh process into a
fresh folder, and records for each run its wall time, the machine's load average just
before it and the files written, by kind (gif, mp4, png). Every run pays for Python's
imports and the model's load; the first also for cold file caches (a fresh clone, its
first import compiling the .pyc files), so it is reported apart as "cold" and the
README's figure is the median of the others ("warm"). The load average at the start
tells an idle machine from a busy one: figures for the README need an idle one.

    python -m benchmarks.demo [--runs 3] [--name demo] [KEYVID DEMO ARGUMENTS ...]

Arguments this script does not know go to `keyvid demo` (e.g. `--actors 1` for a quick
look; a result with them is not the README's figure, so use another --name).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_table, write_result

SRC = Path(__file__).resolve().parents[1] / "src"
KINDS = ("gif", "mp4", "png")
IDLE_LOAD = 0.5  # 1-minute load average per core below which a machine counts as idle


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def run_demo(extra: list[str]) -> tuple[float, dict[str, int]]:
    """One `keyvid demo` in a fresh process and folder: wall seconds, {file name: bytes}."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "demo"
        command = [sys.executable, "-m", "keyvid", "demo", "--out", str(out), *extra]
        start = time.perf_counter()
        proc = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if proc.returncode:
            raise SystemExit(
                f"{' '.join(command)} failed with status {proc.returncode}:\n{proc.stderr}"
            )
        files = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    return seconds, files


def by_kind(files: dict[str, int]) -> dict[str, dict]:
    """Per suffix: how many files, their total and largest size in MiB."""
    out = {}
    for kind in KINDS:
        sizes = [size for name, size in files.items() if name.endswith(f".{kind}")]
        if sizes:
            out[kind] = {
                "files": len(sizes),
                "total_mib": sum(sizes) / 2**20,
                "largest_mib": max(sizes) / 2**20,
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Other arguments go to `keyvid demo`.",
        allow_abbrev=False,
    )
    parser.add_argument("--runs", type=int, default=3, help="runs; the first is the cold one")
    parser.add_argument("--name", default="demo", help="result file name (default: demo)")
    args, extra = parser.parse_known_args()
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")

    start_load, cores = load_average(), os.cpu_count() or 1
    idle = start_load[0] / cores < IDLE_LOAD
    print(f"load average at start {start_load} on {cores} cores: {'idle' if idle else 'BUSY'}")
    rows, files = [], {}
    for i in range(args.runs):
        load = load_average()
        seconds, files = run_demo(extra)
        kinds = by_kind(files)
        row = {"run": i + 1, "kind": "cold" if i == 0 else "warm", "seconds": seconds}
        row |= {"load_1min": load[0]}
        row |= {f"{kind}_mib": kinds.get(kind, {}).get("total_mib", 0.0) for kind in KINDS}
        rows.append(row | {"files": len(files)})
        print(f"run {i + 1}: {seconds:.1f} s, {len(files)} files", flush=True)

    warm = [r["seconds"] for r in rows[1:]]
    print_table(rows, ["run", "kind", "seconds", "load_1min", *(f"{k}_mib" for k in KINDS)])
    summary = {
        "cold_seconds": rows[0]["seconds"],
        "warm_median_seconds": statistics.median(warm) if warm else None,
        "warm_runs": len(warm),
    }
    print(
        f"cold {summary['cold_seconds']:.1f} s, warm median "
        + (f"{summary['warm_median_seconds']:.1f} s" if warm else "- (one run only)")
    )
    for kind, size in by_kind(files).items():
        print(f"{kind}: {size['files']} files, largest {size['largest_mib']:.2f} MiB")
    write_result(
        args.name,
        rows,
        **summary,
        command=["keyvid", "demo", "--out", "TMP", *extra],
        loadavg_at_start=start_load,
        idle_at_start=idle,
        omp_num_threads=os.environ.get("OMP_NUM_THREADS"),
        files_bytes=files,
        files_by_kind=by_kind(files),
        note="seconds: wall time of one `python -m keyvid demo` process (imports, model "
        "load, generation, writing); the first run is cold, warm_median_seconds is the "
        "median of the others; load_1min: the 1-minute load average just before the run; "
        f"idle_at_start: 1-minute load average per core below {IDLE_LOAD} at the start; "
        "files_bytes: the files of the last run",
    )


if __name__ == "__main__":
    main()
