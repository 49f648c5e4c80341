"""Collect the keypoint-error curves that stage-1 runs logged, into one result file.

    python -m benchmarks.stage1_runs_summary --name stage1_diagnostics runs/a runs/b ...

Each run's resolved config is diffed against configs/synth.yaml so the table says
what was changed; the curves are the periodic evaluation of training (IMM
protocol on 1500-3000 fit frames and 750-1500 test frames).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from benchmarks.common import print_table, write_result

BASE = Path(__file__).resolve().parents[1] / "configs" / "synth.yaml"


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def chain_segments(rows: list[dict]) -> list[dict]:
    """Make the clock of a resumed run continuous.

    Runs resumed before the trainer continued its clock restart ``time`` at 0 in
    the new segment; add the time reached at the resumed step to that segment.
    """
    out, offset, last_raw = [], 0.0, 0.0
    for row in rows:
        if row["time"] < last_raw:  # the clock went back: a resumed segment began
            offset = max((r["time"] for r in out if r["step"] < row["step"]), default=0.0)
        last_raw = row["time"]
        out.append({**row, "time": row["time"] + offset})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--name", default="stage1_diagnostics")
    parser.add_argument("--base", type=Path, default=BASE, help="config to diff against")
    args = parser.parse_args()
    base = flatten(yaml.safe_load(args.base.read_text()))
    rows = []
    for run in args.runs:
        cfg = flatten(yaml.safe_load((run / "config.yaml").read_text()))
        changed = {
            k: v
            for k, v in cfg.items()
            if base.get(k) != v
            and not k.startswith(("log.", "data.root", "optim.threads", "optim.steps"))
        }
        metrics = chain_segments(
            [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        )
        curve = [
            (m["step"], round(m["time"]), round(m["eval/keypoint_error"], 4))
            for m in metrics
            if "eval/keypoint_error" in m
        ]
        speed = [m["pairs_per_s"] for m in metrics if "pairs_per_s" in m]
        rows.append({
            "run": run.name,
            "changed_from_base": changed,
            "threads": cfg.get("optim.threads"),
            "median_pairs_per_s": round(sorted(speed)[len(speed) // 2], 1) if speed else None,
            "curve_step_seconds_error": curve,
            "best_error": min((c[2] for c in curve), default=None),
        })  # fmt: skip
    print_table(rows, ["run", "threads", "median_pairs_per_s", "best_error"])
    write_result(args.name, rows, base_config=str(args.base.name))


if __name__ == "__main__":
    main()
