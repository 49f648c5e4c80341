"""Loading speed of the prepared format: stage-1 pairs and stage-2 sequences, samples/s.

Run: python -m benchmarks.bench_loader [--data DATA]  (makes a small synthetic set if absent)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from benchmarks.common import print_table, write_result
from keyvid.data.augment import AugmentConfig
from keyvid.data.datasets import FramePairDataset, SequenceDataset
from keyvid.data.prepare import prepare_synthetic
from keyvid.training.harness.sampler import InfiniteSampler, single_thread_worker


def samples_per_second(
    dataset, *, batch_size: int, workers: int, batches: int, repeats: int = 3
) -> list[float]:
    rates = []
    for r in range(repeats):
        sampler = InfiniteSampler(len(dataset), seed=r)
        loader = DataLoader(
            dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
            worker_init_fn=single_thread_worker,
        )  # fmt: skip
        it = iter(loader)
        next(it)  # worker start-up is not loading speed
        t = time.perf_counter()
        for _ in range(batches):
            next(it)
        rates.append(batches * batch_size / (time.perf_counter() - t))
        del it
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, help="prepared dataset (default: a fresh 64×64 synthetic one)"
    )
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the loader's own setting: one thread per loading process
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data or prepare_synthetic(Path(tmp) / "synth", train=90, test=9, progress=False)
        aug = AugmentConfig()
        cases = [
            ("pairs", "none", FramePairDataset(root), 16),
            ("pairs", "paper list", FramePairDataset(root, augment=aug), 16),
            ("sequences (33 frames)", "paper list", SequenceDataset(root, augment=aug), 4),
            (
                "sequences, joints only",
                "geometric",
                SequenceDataset(root, load_frames=False, augment=aug),
                64,
            ),
        ]
        rows = []
        for name, augment, dataset, batch in cases:
            for workers in (0, 2):
                rates = samples_per_second(
                    dataset, batch_size=batch, workers=workers, batches=args.batches
                )
                rows.append({
                    "dataset": name, "augment": augment, "batch": batch, "workers": workers,
                    "samples_per_s": round(statistics.median(rates), 1),
                    "min": round(min(rates), 1), "max": round(max(rates), 1),
                })  # fmt: skip
    print_table(rows, ["dataset", "augment", "batch", "workers", "samples_per_s", "min", "max"])
    write_result(
        "loader", rows, note="median of 3 repeats; 64×64 frames; one torch thread per process"
    )


if __name__ == "__main__":
    main()
