"""Peak resident memory of `keyvid predict` for a short and a long video (issue 24).

Each case runs `keyvid predict` in a fresh process and reads that process's peak
resident set size from the kernel (`os.wait4`'s rusage), so model loading, the
motion, the rendering and the encoding all count. Cases: one sample to a GIF and to
an MP4, and a grid of several samples to a GIF (with the keypoints drawn and written
as JSON), each at --short and --long frames. Frames are rendered, drawn and encoded
a chunk at a time, so the long run should stay within 1.5x the short one.

    python benchmarks/stream_memory.py [--short 32] [--long 4096] [--grid-samples 3]
        [--src DIR] [--name stream_memory]

--src runs the keyvid of another source tree (e.g. an older checkout) for comparison.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_table, write_result
from keyvid.io import write_image
from keyvid.pipeline.demo import demo_actors

SRC = Path(__file__).resolve().parents[1] / "src"
LIMIT = 1.5  # the bound on long / short peak memory


def peak_rss(argv: list[str], src: Path) -> tuple[float, float]:
    """Run ``python -m keyvid ARGV``; its peak resident memory (MiB) and wall seconds."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    command = [sys.executable, "-m", "keyvid", *argv]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"keyvid {' '.join(argv)} failed with status {proc.returncode}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start  # ru_maxrss is in KiB


def cases(grid_samples: int) -> list[tuple[str, list[str]]]:
    """(label, extra arguments) for one run each; ``{out}`` is the folder for the files."""
    runs = [
        ("1 sample, gif", ["--samples", "1", "--out", "{out}/video.gif"]),
        ("1 sample, mp4", ["--samples", "1", "--out", "{out}/video.mp4"]),
    ]
    if grid_samples > 1:
        grid = ["--samples", str(grid_samples), "--grid", "--overlay", "--out", "{out}/grid.gif"]
        keypoints = ["--keypoints-out", "{out}/keypoints.json"]
        runs.append((f"{grid_samples} samples, grid gif + overlay + json", grid + keypoints))
    return runs


def measure(label: str, extra: list[str], frames: int, image: Path, src: Path) -> dict:
    with tempfile.TemporaryDirectory() as out:
        argv = ["predict", "--image", str(image), "--action", "squats", "--frames", str(frames)]
        mib, seconds = peak_rss([*argv, *(a.format(out=out) for a in extra)], src)
        size = sum(p.stat().st_size for p in Path(out).iterdir())
    row = {"case": label, "frames": frames, "peak_rss_mib": mib, "seconds": seconds}
    print(f"{label}, {frames} frames: {mib:.0f} MiB peak, {seconds:.0f} s", flush=True)
    return row | {"output_mib": size / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=32, help="frames of the short video")
    parser.add_argument("--long", type=int, default=4096, help="frames of the long video")
    parser.add_argument("--grid-samples", type=int, default=3, help="0: no grid case")
    parser.add_argument("--src", type=Path, default=SRC, help="source tree of keyvid to run")
    parser.add_argument("--name", default="stream_memory", help="result file name")
    args = parser.parse_args()

    rows, ratios, lengths = [], {}, (args.short, args.long)
    with tempfile.TemporaryDirectory() as folder:
        image = write_image(Path(folder) / "actor.png", demo_actors(1)[0])
        for label, extra in cases(args.grid_samples):
            short, long = (measure(label, extra, n, image, args.src) for n in lengths)
            ratios[label] = long["peak_rss_mib"] / short["peak_rss_mib"]
            rows += [short, long | {"ratio_to_short": ratios[label]}]
    print_table(rows, ["case", "frames", "peak_rss_mib", "ratio_to_short", "seconds", "output_mib"])
    worst = max(ratios.values())
    print(f"largest long/short ratio: {worst:.3f} (limit {LIMIT})")
    write_result(
        args.name,
        rows,
        largest_ratio=worst,
        within_limit=worst <= LIMIT,
        omp_num_threads=os.environ.get("OMP_NUM_THREADS"),
        src=str(args.src),
        note="peak_rss_mib: the keyvid predict process's peak resident set (os.wait4 rusage); "
        "ratio_to_short: the long run's peak over the short run's in the same case",
    )


if __name__ == "__main__":
    main()
