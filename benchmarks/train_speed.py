"""Training speed against this machine's peak, precision/layout/compile switches side by
side, and data-parallel scaling from 1 to 2 processes.

- peak: per precision, the best FLOP/s of large matmuls and 3×3 convolutions (both
  memory layouts), measured in this run (the denominators below);
- step: one training step (forward, backward, optimiser; D_im / D_seq included where
  the config has them) on in-memory batches, so that data loading (bench_loader) is
  not counted: steps/s, items/s, model FLOPs per step (convolutions and matmuls,
  forward and backward, counted by torch.utils.flop_counter; LSTMs, which it does not
  see, counted from their sizes), achieved FLOP/s and
  its fraction of the peak, peak resident memory. Each case runs in its own process;
- ddp: the real `keyvid train stage1` on a generated dataset, 1 process with 2
  threads against `torchrun` with 2 processes of 1 thread (gloo), pairs/s;
- profile: where the time of a synth stage-1 step goes (top ops, torch.profiler).

    python -m benchmarks.train_speed [--quick] [--no-compile] [--no-ddp]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import best_of, print_table, write_result

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# (stage, size, config file, overrides): the synth CPU default and the paper's sizes.
MODELS = {
    "stage1 synth 64²": (1, "synth.yaml", ["loss.reconstruction=pixel"]),
    "stage1 paper 128²": (1, "penn.yaml", ["loss.reconstruction=pixel"]),
    "stage2 synth": (2, "synth_stage2.yaml", ["model.num_keypoints=16"]),
    "stage2 paper": (2, "penn_stage2.yaml", ["model.num_keypoints=40"]),
}
VARIANTS = {
    "fp32": [],
    "bf16": ["optim.precision=bf16"],
    "channels_last": ["optim.channels_last=true"],
    "compile": ["optim.compile=true"],
}


def peak_flops(repeats: int) -> dict:
    """FLOP/s of large dense kernels, per precision: the best this machine's cores do.

    Matmuls of two sizes and a 3×3 convolution in both memory layouts; the peak of a
    precision is the best of its kernels (on this CPU the channels-last convolution
    beats the matmul by far, so a matmul alone would flatter the fraction of peak).
    """
    rates = {}
    for dtype, tag in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        for n in (1024, 2048):
            a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
            rates[f"matmul_{n}_{tag}"] = 2 * n**3 / best_of(lambda a=a, b=b: a @ b, repeats)
        conv = torch.nn.Conv2d(128, 128, 3, padding=1, bias=False).to(dtype).eval()
        flops = 2 * 16 * 128 * 128 * 9 * 64 * 64
        for layout, memory in (("nchw", torch.contiguous_format), ("nhwc", torch.channels_last)):
            x = torch.randn(16, 128, 64, 64, dtype=dtype).contiguous(memory_format=memory)
            net = conv.to(memory_format=memory)
            with torch.no_grad():
                seconds = best_of(lambda x=x, net=net: net(x), repeats)
            rates[f"conv_{layout}_{tag}"] = flops / seconds
    for tag in ("fp32", "bf16"):
        rates[f"peak_{tag}"] = max(v for k, v in rates.items() if k.endswith(tag))
    return rates


def profile_top_ops(model: str, variant: str, steps: int = 3, top: int = 12) -> list[dict]:
    """Where a step's time goes: the ops with the most self CPU time (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    stage, config_file, overrides = MODELS[model]
    build = _stage1_case if stage == 1 else _stage2_case
    step, _ = build(CONFIGS / config_file, [*overrides, *VARIANTS[variant], "optim.threads=0"])
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [
        {
            "op": e.key,
            "self_ms_per_step": e.self_cpu_time_total / 1000 / steps,
            "share": e.self_cpu_time_total / total,
        }
        for e in events[:top]
    ]


def _prepare(state, names: list[str], optim) -> None:
    """The trainers' switches (channels-last, compile) on a state's networks, one process."""
    from keyvid.distributed import SINGLE
    from keyvid.training.harness.session import train_module

    for name in names:
        if getattr(state, name) is not None:
            state.parallel[name] = train_module(
                getattr(state, name), SINGLE, torch.device("cpu"), optim
            )


def _stage1_case(config_path: Path, overrides: list[str]):
    from keyvid.config import load_config
    from keyvid.losses.reconstruction import ReconstructionLoss
    from keyvid.training.config import Stage1Config
    from keyvid.training.harness.precision import Precision
    from keyvid.training.stage1 import build_state, train_step

    config = load_config(Stage1Config, config_path, overrides)
    state = build_state(config, torch.device("cpu"))
    _prepare(state, ["model", "discriminator"], config.optim)
    precision = Precision.resolve(config.optim.precision, torch.device("cpu"))
    rec = ReconstructionLoss.from_config(config.loss.reconstruction, None)
    b, s = config.optim.batch_size, config.model.image_size
    memory = torch.channels_last if config.optim.channels_last else torch.contiguous_format
    batch = {
        "source": torch.rand(b, 3, s, s).contiguous(memory_format=memory),
        "target": torch.rand(b, 3, s, s).contiguous(memory_format=memory),
    }
    return (lambda: train_step(state, rec, batch, config, precision)), b


def _stage2_case(config_path: Path, overrides: list[str]):
    from keyvid.config import load_config
    from keyvid.data.actions import PENN_ACTIONS
    from keyvid.training.config import Stage2Config
    from keyvid.training.harness.precision import Precision
    from keyvid.training.stage2 import build_state, train_step

    actions = "[" + ",".join(PENN_ACTIONS) + "]"
    config = load_config(Stage2Config, config_path, [*overrides, f"model.actions={actions}"])
    state = build_state(config, torch.device("cpu"))
    precision = Precision.resolve(config.optim.precision, torch.device("cpu"))
    _prepare(state, ["generator", "discriminator"], config.optim)
    b, k = config.optim.batch_size, config.model.num_keypoints
    length = config.model.generator.length + 1
    batch = {
        "keypoints": torch.rand(b, length, k, 2) * 2 - 1,
        "action": torch.randint(len(PENN_ACTIONS), (b,)),
    }
    return (lambda: train_step(state, batch, config, precision)), b


class LSTMFlops:
    """Matmul FLOPs of every nn.LSTM call, which torch's FLOP counter does not see (the
    fused LSTM kernel is not one of its ops): per layer and time step the gates cost
    2·4H·(I + H) per sequence; the backward pass costs twice the forward."""

    def __init__(self) -> None:
        self.forward_flops = 0
        self._handles = []

    def _hook(self, lstm: torch.nn.LSTM, inputs, output) -> None:
        x = inputs[0]
        batch, steps = (x.shape[0], x.shape[1]) if lstm.batch_first else (x.shape[1], x.shape[0])
        size, hidden = lstm.input_size, lstm.hidden_size
        for _ in range(lstm.num_layers):
            self.forward_flops += 2 * 4 * hidden * (size + hidden) * batch * steps
            size = hidden

    def __enter__(self) -> LSTMFlops:
        hook = torch.nn.modules.module.register_module_forward_hook(
            lambda m, i, o: self._hook(m, i, o) if isinstance(m, torch.nn.LSTM) else None
        )
        self._handles.append(hook)
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()

    @property
    def train_flops(self) -> int:
        return 3 * self.forward_flops


def run_case(model: str, variant: str, steps: int) -> dict:
    """One (model, variant) in this process: steps/s, FLOPs per step, peak memory."""
    from torch.utils.flop_counter import FlopCounterMode

    stage, config_file, overrides = MODELS[model]
    overrides = [*overrides, *VARIANTS[variant], "optim.threads=0"]
    build = _stage1_case if stage == 1 else _stage2_case
    step, items = build(CONFIGS / config_file, overrides)
    t = time.perf_counter()
    step()  # warm-up (and, with compile, the compilation)
    warmup = time.perf_counter() - t
    step()
    with FlopCounterMode(display=False) as counter, LSTMFlops() as lstm:
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - t) / steps
    flops = counter.get_total_flops() + lstm.train_flops
    return {
        "model": model,
        "variant": variant,
        "step_s": seconds,
        "items_per_s": items / seconds,
        "gflop_per_step": flops / 1e9,
        "achieved_gflops": flops / seconds / 1e9,
        "first_step_s": warmup,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_subprocess(model: str, variant: str, steps: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.train_speed", "--case", model, variant, str(steps)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {"model": model, "variant": variant, "error": proc.stderr.strip()[-300:]}
    return _json_line(proc.stdout)


def _json_line(stdout: str):
    """The JSON a case printed (the profiler may print its own lines after it)."""
    return json.loads(next(line for line in reversed(stdout.splitlines()) if line[:1] in "[{"))


def ddp_scaling(steps: int) -> list[dict]:
    """pairs/s of the real trainer: 1 process × 2 threads vs 2 processes × 1 thread."""
    from keyvid.data.prepare import prepare_synthetic

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare_synthetic(Path(tmp) / "synth", train=90, test=0, progress=False)
        common = [
            "train", "stage1", "--config", str(CONFIGS / "synth.yaml"), f"data.root={data}",
            "loss.reconstruction=pixel", "data.num_workers=0", f"optim.steps={steps}",
            "log.log_every=10", "log.eval_every=0", "log.sample_every=0",
            "log.checkpoint_every=100000", "log.tensorboard=false",
        ]  # fmt: skip
        for processes, threads in ((1, 2), (2, 1)):
            run = Path(tmp) / f"run{processes}"
            launcher = [sys.executable, "-m", "keyvid"]
            if processes > 1:
                launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                            f"--nproc-per-node={processes}", "-m", "keyvid"]  # fmt: skip
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            args = [*common, f"optim.threads={threads}", "--run-dir", str(run)]
            proc = subprocess.run([*launcher, *args], capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                rows.append({"processes": processes, "error": proc.stderr.strip()[-300:]})
                continue
            logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().split("\n")
                      if line]  # fmt: skip
            rates = [r["pairs_per_s"] for r in logged[1:]]  # the first window holds start-up
            rows.append(
                {
                    "processes": processes,
                    "threads_each": threads,
                    "pairs_per_s": sum(rates) / len(rates),
                }
            )
    if len(rows) == 2 and "pairs_per_s" in rows[0] and "pairs_per_s" in rows[1]:
        rows[1]["speedup"] = rows[1]["pairs_per_s"] / rows[0]["pairs_per_s"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps, synth sizes only")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile cases")
    parser.add_argument("--no-ddp", action="store_true", help="skip the 1 vs 2 process run")
    parser.add_argument("--case", nargs=3, help=argparse.SUPPRESS)  # internal: one subprocess
    parser.add_argument("--profile-case", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        model, variant, steps = args.case
        print(json.dumps(run_case(model, variant, int(steps))))
        return
    if args.profile_case:
        print(json.dumps(profile_top_ops(*args.profile_case)))
        return

    peak = peak_flops(repeats=3 if args.quick else 5)
    print(", ".join(f"{k} {v / 1e9:.0f}" for k, v in peak.items()) + " GFLOP/s")
    models = ["stage1 synth 64²", "stage2 synth"]
    if not args.quick:
        models += ["stage1 paper 128²", "stage2 paper"]
    variants = [v for v in VARIANTS if not (args.no_compile and v == "compile")]
    rows = []
    for model in models:
        paper = "paper" in model
        steps = 2 if args.quick else (3 if paper else 20)
        base = None
        for variant in variants:
            if variant == "channels_last" and model.startswith("stage2"):
                continue  # no convolutions in stage 2
            row = in_subprocess(model, variant, steps)
            if "error" not in row:
                # Against the peak of the precision the step computes in.
                tag = "bf16" if variant == "bf16" else "fp32"
                row["fraction_of_peak"] = row["achieved_gflops"] * 1e9 / peak[f"peak_{tag}"]
                base = base or row["step_s"]
                row["speedup_vs_fp32"] = base / row["step_s"]
            rows.append(row)
            print(row)
    columns = ["model", "variant", "step_s", "items_per_s", "gflop_per_step", "achieved_gflops",
               "fraction_of_peak", "speedup_vs_fp32", "first_step_s", "peak_rss_mb"]  # fmt: skip
    print_table(rows, columns)
    ddp = [] if args.no_ddp else ddp_scaling(steps=20 if args.quick else 60)
    if ddp:
        print_table(ddp, ["processes", "threads_each", "pairs_per_s", "speedup"])
    cmd = [sys.executable, "-m", "benchmarks.train_speed", "--profile-case", models[0], "fp32"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    profile = _json_line(proc.stdout) if proc.returncode == 0 else []
    if profile:
        print(f"where a {models[0]} fp32 step's time goes:")
        print_table(profile, ["op", "self_ms_per_step", "share"])
    write_result(
        "train_speed" + ("_quick" if args.quick else ""),
        rows,
        peak_flops=peak,
        ddp_scaling=ddp,
        profile={"case": f"{models[0]} fp32", "top_ops": profile},
        note="step = one training step on in-memory batches (no data loading); FLOPs = "
        "convolutions and matmuls (LSTMs from their sizes), forward + backward; fraction of "
        "peak against the best matmul/conv rate of the step's precision measured in this run",
    )


if __name__ == "__main__":
    main()
