"""Renderers inside the whole pipeline: `keyvid evaluate` reports side by side.

Reads the ``metrics.json`` of `keyvid evaluate` runs of pipelines that differ only in
their translator (``keyvid export synth OUT --stage1 RUN`` swaps one in) on the same
development split, and tabulates what a viewer sees: action accuracy of the generated
videos and of T driven by the real videos' keypoints, in-domain FD, per-frame FD and
sharpness relative to the real frames, and stage-1 SSIM.

    python -m benchmarks.renderer_pipeline analogy=eval/synth-dev7/metrics.json \
        warp=eval/warp-dev7/metrics.json --name renderer_pipeline_dev7
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import print_table, write_result

KEYS = {  # column -> key of metrics.json
    "accuracy_generated": "action_accuracy_generated",
    "accuracy_pseudo_label": "action_accuracy_pseudo_label_keypoints",
    "accuracy_real": "action_accuracy_real",
    "fd_indomain": "fd_indomain",
    "fd_frames": "fd_frames",
    "sharpness_generated": "sharpness_relative",
    "sharpness_pseudo_label": "sharpness_relative_pseudo_label_keypoints",
}


def row(label: str, path: Path) -> dict:
    metrics = json.loads(path.read_text())
    stage1 = metrics["stage1"]["model"]["reconstruction"]
    return {
        "renderer": label,
        "videos": metrics["num_videos"],
        **{column: metrics.get(key) for column, key in KEYS.items()},
        "ssim": stage1["ssim"],
        "implement_l1": stage1.get("implement_l1"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", help="LABEL=PATH/metrics.json")
    parser.add_argument("--name", default="renderer_pipeline")
    args = parser.parse_args()
    pairs = [item.split("=", 1) for item in args.reports]
    rows = [row(label, Path(path)) for label, path in pairs]
    print_table(rows, list(rows[0]))
    write_result(args.name, rows, note="keyvid evaluate on a development split; see docstring")


if __name__ == "__main__":
    main()
