"""Frames per second of the synthetic dataset generator (synth_videos) at 64 and 128 px.

Run from the repository root: ``python -m benchmarks.bench_synth``.
"""

from __future__ import annotations

import statistics
import time

from benchmarks.common import print_table, write_result
from keyvid.data.synth import synth_videos

FRAMES = 40
VIDEOS = {64: 180, 128: 45}  # about 7200 / 1800 frames per repeat (a few seconds each)
REPEATS = 5


def measure(size: int, videos: int) -> dict:
    """Median frames/s over REPEATS passes, each over different videos (seed = repeat)."""
    list(synth_videos("train", 9, seed=99, size=size, frames=FRAMES))  # warm up
    rates = []
    for repeat in range(REPEATS):
        start = time.perf_counter()
        count = sum(len(v[2]) for v in synth_videos("train", videos, seed=repeat, size=size))
        rates.append(count / (time.perf_counter() - start))
    return {
        "size": size,
        "videos": videos,
        "frames_per_video": FRAMES,
        "repeats": REPEATS,
        "median_fps": round(statistics.median(rates), 1),
        "min_fps": round(min(rates), 1),
        "max_fps": round(max(rates), 1),
    }


def main() -> None:
    rows = [measure(size, videos) for size, videos in VIDEOS.items()]
    print_table(rows, ["size", "videos", "repeats", "median_fps", "min_fps", "max_fps"])
    write_result("synth_generation", rows)


if __name__ == "__main__":
    main()
