"""The issue-6 targets of the shipped synth model, measured by `keyvid evaluate`.

Runs the full evaluation (shipped synth + synth-no-action + synth-classifier) on a
synthetic test split, then prints each target beside its figure:

- evaluator accuracy on real test videos ≥ 95 %;
- action accuracy of generated videos ≥ 80 % (moonshot ≥ 90 % of the real accuracy)
  and above the w/o-action model's;
- in-domain FD of generated videos ≤ 0.5 × copy-first-frame's;
- the evaluation of 90 videos × 1 sample takes minutes on 2 cores.

    keyvid data synth data/synth-seed7 --seed 7     # fresh actors: no model saw them
    python -m benchmarks.evaluate_synth --data data/synth-seed7 --out eval/synth
    python -m benchmarks.evaluate_synth --data data/synth-seed7 --motion-scale 1 \
        --name evaluation_synth_raw    # without travel calibration
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.common import print_table, write_result
from keyvid.evaluation.report import evaluate_model


def targets(m: dict) -> list[dict]:
    real, gen = m.get("action_accuracy_real"), m.get("action_accuracy_generated")
    noa = m.get("action_accuracy_generated_no_action")
    fd, fd_copy = m.get("fd_indomain"), m.get("fd_indomain_copy_first_frame")
    rows = [
        ("evaluator accuracy on real videos", real, ">= 0.95", real is not None and real >= 0.95),
        ("accuracy of generated videos", gen, ">= 0.80", gen is not None and gen >= 0.80),
        (
            "generated / real accuracy (moonshot)",
            gen / real if gen is not None and real else None,
            ">= 0.90",
            gen is not None and bool(real) and gen / real >= 0.90,
        ),
        ("accuracy w/o action", noa, "< generated", None not in (gen, noa) and gen > noa),
        (
            "in-domain FD / copy-first-frame FD",
            fd / fd_copy if fd is not None and fd_copy else None,
            "<= 0.5",
            fd is not None and bool(fd_copy) and fd / fd_copy <= 0.5,
        ),
        ("evaluation seconds", m["seconds"], "minutes", m["seconds"] < 15 * 60),
    ]
    return [{"target": t, "value": v, "aim": a, "met": bool(ok)} for t, v, a, ok in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="prepared synthetic dataset (test split)")
    parser.add_argument("--out", type=Path, default=Path("eval/synth"))
    parser.add_argument("--checkpoint", default="synth")
    parser.add_argument("--samples-per-video", type=int, default=1)
    parser.add_argument(
        "--motion-scale",
        type=float,
        help="override the models' measured travel factors (1: raw samples, the ablation)",
    )
    parser.add_argument("--name", default="evaluation_synth", help="result file name")
    args = parser.parse_args()
    metrics = evaluate_model(
        args.checkpoint,
        args.data,
        args.out,
        samples_per_video=args.samples_per_video,
        motion_scale=args.motion_scale,
    )
    rows = targets(metrics)
    print_table(rows, ["target", "value", "aim", "met"])
    write_result(args.name, rows, data=args.data, metrics=metrics)


if __name__ == "__main__":
    main()
