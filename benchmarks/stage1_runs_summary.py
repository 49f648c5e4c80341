"""Collect the keypoint-error curves that stage-1 runs logged, into one result file.

    python -m benchmarks.stage1_runs_summary --name stage1_diagnostics runs/a runs/b ...

Each run's resolved config is diffed against configs/synth.yaml so the table says
what was changed; the curves are the periodic evaluation of training (IMM
protocol on 1500-3000 fit frames and 750-1500 test frames) against training
seconds summed from the logged pairs/s (evaluation time excluded).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import print_table, write_result
from keyvid.config import flatten, load_config, to_dict
from keyvid.training.config import Stage1Config

BASE = Path(__file__).resolve().parents[1] / "configs" / "synth.yaml"


def training_seconds(rows: list[dict], batch: int) -> dict[int, float]:
    """Cumulative training seconds at each logged step, from the logged pairs/s.

    Robust to resumed runs (a killed segment's rows past its last checkpoint are
    superseded by the resumed segment's rows for the same steps) and excludes the
    time spent on periodic evaluation and sample grids.
    """
    speed = {r["step"]: r["pairs_per_s"] for r in rows if "pairs_per_s" in r}  # last row wins
    seconds, total, previous = {}, 0.0, 0
    for step in sorted(speed):
        total += (step - previous) * batch / speed[step]
        seconds[step], previous = total, step
    return seconds


def resolved(path: Path) -> dict:
    """Every setting of a stage-1 config file, defaults filled in, flattened."""
    return flatten(to_dict(load_config(Stage1Config, path)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--name", default="stage1_diagnostics")
    parser.add_argument("--base", type=Path, default=BASE, help="config to diff against")
    args = parser.parse_args()
    base = resolved(args.base)
    rows = []
    for run in args.runs:
        cfg = resolved(run / "config.yaml")
        changed = {
            k: v
            for k, v in cfg.items()
            if base.get(k) != v
            and not k.startswith(("log.", "data.root", "optim.threads", "optim.steps"))
        }
        metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        seconds = training_seconds(metrics, cfg["optim.batch_size"])
        errors = {
            m["step"]: m["eval/keypoint_error"] for m in metrics if "eval/keypoint_error" in m
        }
        curve = [(s, round(seconds[s]), round(e, 4)) for s, e in sorted(errors.items())]
        # Runs since the per-joint log: {joint: [[step, error], ...]}.
        per_joint: dict[str, list] = {}
        for m in metrics:
            for key, value in m.items():
                if key.startswith("eval/joint/"):
                    per_joint.setdefault(key.removeprefix("eval/joint/"), []).append(
                        [m["step"], round(value, 4)]
                    )
        speed = [m["pairs_per_s"] for m in metrics if "pairs_per_s" in m]
        rows.append({
            "run": run.name,
            "changed_from_base": changed,
            "threads": cfg.get("optim.threads"),
            "median_pairs_per_s": round(sorted(speed)[len(speed) // 2], 1) if speed else None,
            "curve_step_seconds_error": curve,
            "per_joint_curves": per_joint,
            "best_error": min((c[2] for c in curve), default=None),
        })  # fmt: skip
    print_table(rows, ["run", "threads", "median_pairs_per_s", "best_error"])
    write_result(args.name, rows, base_config=str(args.base.name))


if __name__ == "__main__":
    main()
