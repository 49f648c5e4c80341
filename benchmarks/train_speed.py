"""Training speed against this machine's peak, precision/layout/compile switches side by
side, and data-parallel scaling from 1 to 2 processes.

- peak: the best FLOP/s of a large fp32 matmul and of a large fp32 convolution, and a
  bf16 matmul, measured in this run (the denominators below);
- step: one training step (forward, backward, optimiser; D_im / D_seq included where
  the config has them) on in-memory batches, so that data loading (bench_loader) is
  not counted: steps/s, items/s, model FLOPs per step (convolutions and matmuls,
  forward and backward, counted by torch.utils.flop_counter; LSTMs, which it does not
  see, counted from their sizes), achieved FLOP/s and
  its fraction of the peak, peak resident memory. Each case runs in its own process;
- ddp: the real `keyvid train stage1` on a generated dataset, 1 process with 2
  threads against `torchrun` with 2 processes of 1 thread (gloo), pairs/s.

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

from benchmarks.common import print_table, write_result

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


def best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def peak_flops(repeats: int) -> dict:
    """FLOP/s of large dense kernels: what this machine's cores can do at best."""
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    matmul = 2 * n**3 / best_seconds(lambda: a @ b, repeats)
    a16, b16 = a.bfloat16(), b.bfloat16()
    matmul_bf16 = 2 * n**3 / best_seconds(lambda: a16 @ b16, repeats)
    x = torch.randn(16, 128, 64, 64)
    conv = torch.nn.Conv2d(128, 128, 3, padding=1, bias=False).eval()
    conv_flops = 2 * 16 * 128 * 128 * 9 * 64 * 64
    with torch.no_grad():
        conv_rate = conv_flops / best_seconds(lambda: conv(x), repeats)
    return {"matmul_fp32": matmul, "matmul_bf16": matmul_bf16, "conv_fp32": conv_rate}


def _prepare(state, names: list[str], optim) -> None:
    """The trainers' switches on a state's networks: channels-last, compile."""
    from keyvid.training.precision import compiled, to_channels_last

    for name in names:
        module = getattr(state, name)
        if module is None:
            continue
        if optim.channels_last:
            to_channels_last(module)
        if optim.compile:
            state.parallel[name] = compiled(module)


def _stage1_case(config_path: Path, overrides: list[str]):
    from keyvid.config import load_config
    from keyvid.losses.reconstruction import ReconstructionLoss
    from keyvid.training.config import Stage1Config
    from keyvid.training.precision import Precision
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
    from keyvid.training.precision import Precision
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
    return json.loads(proc.stdout.strip().splitlines()[-1])


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
    args = parser.parse_args()
    if args.case:
        model, variant, steps = args.case
        print(json.dumps(run_case(model, variant, int(steps))))
        return

    peak = peak_flops(repeats=3 if args.quick else 5)
    best_peak = max(peak["matmul_fp32"], peak["conv_fp32"])
    print(
        "peak: matmul fp32 {:.1f}, bf16 {:.1f}, conv fp32 {:.1f} GFLOP/s".format(
            *(peak[k] / 1e9 for k in ("matmul_fp32", "matmul_bf16", "conv_fp32"))
        )
    )
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
                row["fraction_of_peak"] = row["achieved_gflops"] * 1e9 / best_peak
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
    write_result(
        "train_speed" + ("_quick" if args.quick else ""),
        rows,
        peak_flops=peak,
        ddp_scaling=ddp,
        note="step = one training step on in-memory batches (no data loading); FLOPs = "
        "convolutions and matmuls, forward + backward, torch.utils.flop_counter; fraction of "
        "peak against the best of the fp32 matmul and conv peaks measured in the same run",
    )


if __name__ == "__main__":
    main()
