"""Do keypoints emerge, how fast, and does the analogy help? (issue: stage 1 targets)

Trains stage 1 on the synthetic data for the full method and the two ablations
(no analogy = Jakab et al. 2018; no background mask), reads the keypoint
regression error (IMM protocol, fraction of image size) that training logs
against wall-clock time, evaluates each final checkpoint on the whole test split
beside an untrained detector, and measures training throughput (pairs/s) at the
synth and paper resolutions.

    python -m benchmarks.stage1_emergence --data data/synth --steps 2000
    python -m benchmarks.stage1_emergence --data data/synth --reuse full=runs/stage1-synth

``--reuse VARIANT=RUN`` takes an existing run of the same config instead of training;
its curve is cut at ``--steps`` and its checkpoint at that step is evaluated (the
latest one if that step was not kept), so every variant is compared at equal steps.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benchmarks.common import print_table, write_result
from keyvid.config import load_config
from keyvid.evaluation.report import evaluate_keypoints
from keyvid.losses.reconstruction import ReconstructionLoss
from keyvid.training.config import Stage1Config
from keyvid.training.stage1 import build_state, train_stage1, train_step

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# The feature transport of configs/synth.yaml (and the skips it moves) uses the source
# keypoints, i.e. it is itself an analogy: the no-analogy ablation cannot have it. To
# isolate the paper's two switches, all three variants here train without them, from
# the paper's design (with the mask, which configs/synth.yaml drops).
BASE = ["model.translator.transport=false", "model.translator.skips=false", "model.mask=true"]
VARIANTS = {
    "full": [],
    # T sees only k' (Jakab et al. 2018): the feature transport uses k, so it goes too.
    "no_analogy": ["model.analogy=false"],
    "no_mask": ["model.mask=false"],
}


def emergence_curve(run: Path, max_step: int) -> list[dict]:
    """(step, seconds, error) rows that training logged, up to ``max_step``."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [
        {"step": r["step"], "seconds": r["time"], "error": round(r["eval/keypoint_error"], 4)}
        for r in rows
        if "eval/keypoint_error" in r and r["step"] <= max_step
    ]


def checkpoint_at(run: Path, step: int) -> Path:
    """The run's checkpoint at ``step`` if it was kept, else the run (its latest)."""
    ckpt = run / "checkpoints" / f"step_{step:08d}"
    return ckpt if ckpt.is_dir() else run


def throughput(config_name: str, overrides: list[str], steps: int = 4) -> dict:
    """Training pairs/s of the full method, measured on random batches (no data loading)."""
    cfg = load_config(
        Stage1Config, CONFIGS / f"{config_name}.yaml", ["optim.device=cpu", *overrides]
    )
    state = build_state(cfg, torch.device("cpu"))
    loss = ReconstructionLoss.from_config(cfg.loss.reconstruction, cfg.loss.vgg_weights)
    b, s = cfg.optim.batch_size, cfg.model.image_size
    batch = {"source": torch.rand(b, 3, s, s), "target": torch.rand(b, 3, s, s)}
    train_step(state, loss, batch, cfg)  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        train_step(state, loss, batch, cfg)
    seconds = (time.perf_counter() - t) / steps
    params = sum(p.numel() for p in state.model.parameters())
    return {
        "config": config_name,
        "resolution": s,
        "batch": b,
        "reconstruction": loss.kind_in_use,
        "adversarial": cfg.loss.adversarial_weight > 0,
        "params_QT": params,
        "s_per_step": round(seconds, 3),
        "pairs_per_s": round(b / seconds, 2),
    }


def measure_throughput() -> list[dict]:
    """Step time of the CPU default and of the paper's Penn Action settings."""
    speed = [
        throughput("synth", []),
        throughput("penn", ["loss.reconstruction=pixel"], steps=2),
    ]
    print_table(speed, list(speed[0]))
    return speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/synth"))
    parser.add_argument("--steps", type=int, default=2000, help="training steps per variant")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per training")
    parser.add_argument("--runs", type=Path, default=Path("runs/emergence"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--reuse", action="append", default=[], metavar="VARIANT=RUN")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--throughput-only",
        action="store_true",
        help="only time training steps (on a quiet machine); writes stage1_throughput.json",
    )
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.throughput_only:
        speed = measure_throughput()
        write_result("stage1_throughput", speed, threads=torch.get_num_threads())
        return

    reuse = dict(item.split("=", 1) for item in args.reuse)
    rows, curves = [], {}
    for variant in args.variants.split(","):
        run = Path(reuse.get(variant, args.runs / variant))
        if variant not in reuse:
            overrides = [
                f"data.root={args.data}",
                f"optim.steps={args.steps}",
                f"optim.threads={args.threads}",
                *BASE,
                *VARIANTS[variant],
            ]
            cfg = load_config(Stage1Config, CONFIGS / "synth.yaml", overrides)
            train_stage1(cfg, run, resume=run.exists())
        curves[variant] = emergence_curve(run, args.steps)
        final = evaluate_keypoints(checkpoint_at(run, args.steps), args.data)
        last = curves[variant][-1] if curves[variant] else {"step": None, "seconds": None}
        rows.append({
            "variant": variant,
            "steps": last["step"],
            "train_minutes": round(last["seconds"] / 60, 1) if last["seconds"] else None,
            "test_error": round(final["test_error"], 4),
            "untrained_error": round(final["untrained_test_error"], 4),
            "ratio": round(final["ratio_to_untrained"], 3),
            "checkpoint_step": final["step"],
            "run": str(run),
        })  # fmt: skip
    print_table(
        rows, ["variant", "steps", "train_minutes", "test_error", "untrained_error", "ratio"]
    )
    speed = [] if args.skip_throughput else measure_throughput()
    write_result(
        "stage1_emergence",
        rows,
        curves=curves,
        throughput=speed,
        config="configs/synth.yaml",
        overrides={"all": BASE, **VARIANTS},
        steps=args.steps,
        threads=args.threads,
        protocol="linear regression keypoints -> 13 joints fit on train frames, mean L2 error "
        "on test frames as a fraction of image size (IMM); curves from training's periodic eval "
        "(3000 train / 1500 test frames), final figures on the whole test split",
    )


if __name__ == "__main__":
    main()
