#!/usr/bin/env bash
# One prepared check of keyvid on a lent GPU machine: what no CPU session can test.
#
#   OUT=/folder/to/bring/back bash benchmarks/device_check.sh    # from the repository root
#
# Made for the `run` tool's machine (one GPU, Python at `python3` with CUDA torch
# preinstalled, no PyAV, no internet) with `.whl/` carried (the PyAV wheel: README,
# "Many processes"). keyvid is used from src/ through PYTHONPATH (`python3 -m keyvid`):
# nothing is installed over the machine's torch.
#
# Sections, each under its own `timeout`, its exit code recorded; one that fails or
# times out does not stop the others. Run in this order (the most GPU-specific first),
# together within DEVICE_CHECK_BUDGET seconds (default 450: about 7 minutes; a section
# that would start with less than 20 s left is recorded as skipped):
#   0  setup: nvidia-smi, versions, PyAV from .whl/, `import keyvid`
#   2  precision: 30 steps of stage 1 (configs/synth.yaml, D_im on, in-training evaluation
#      and a sample grid) in fp16 (GradScaler) and in bf16 on CUDA: finite losses and
#      weights, a checkpoint, the scaler's state in it, no fallback warning
#   3  NCCL + SyncBatchNorm: `torchrun --nproc-per-node 1` of stage 1 (a) as is, where
#      keyvid, seeing WORLD_SIZE=1, joins no process group (reported, not an error);
#      (b) with that one process counted as distributed (a launcher written below), so that
#      NCCL, SyncBatchNorm, DDP and the loop's collectives run for real with one rank (NCCL
#      refuses two ranks on one GPU; with one rank SyncBatchNorm computes plain batch
#      statistics); (c) only if (b) fails: (b) with a mixed "cpu:gloo,cuda:nccl" group, to
#      tell a collective on a CPU tensor (keyvid.distributed.collective_device should have
#      put them on the GPU) from another NCCL fault
#   4a GPU training speed of the real trainer (pairs/s from metrics.jsonl, the start-up
#      window left out): synth 64² (40 steps) and the paper's 128², K = 40, D_im
#      (configs/penn.yaml with the pixel loss, 20 steps), each fp32 and bf16
#   5  `keyvid recipe synth --tiny` on the GPU: the whole chain (data, three stage-1
#      phases, pseudo-labels, four stage-2 runs, classifier, bundles, evaluation) finishes
#   4b the CPU benchmarks (both pin the CPU): `python3 -m benchmarks.train_speed --quick
#      --no-compile --no-ddp`, `python3 -m benchmarks.predict --repeats 1`; JSON to $OUT
#   1  pytest: tests that need CUDA (none so far: every training test pins
#      optim.device=cpu), then the harness precision tests and three torchrun (gloo) tests
#   5b the real `keyvid recipe synth` (the shipped model's settings; the recipe has no step
#      limit) in what is left of the budget, at most 3 minutes: how far it got (seconds per
#      finished step; the speed of the training step it was cut in)
#
# Without CUDA (or with DEVICE_CHECK_MODE=cpu) every section runs its smallest CPU form
# (tiny networks, a few steps, `--help` / `--dry-run` for the long ones, one thread): a
# check of this script itself, about 1.5 minutes.
#
# Results: $OUT/device_check.log (everything), $OUT/device_check.json (per section:
# status, exit code, seconds, each command's exit code and seconds, key figures), and the
# benchmarks' own JSON: $OUT/train_speed_quick.json, $OUT/device_check_predict.json.
# Work files go to /tmp/device_check_work (emptied first; PyAV to /tmp/site), never into
# the repository but benchmarks/results/{train_speed_quick,device_check_predict}.json
# (GPU mode only).
#
# Knobs: OUT (default /tmp/device_check_out), PY (python3), SECTIONS (default
# "0 2 3 4a 5 4b 1 5b"; e.g. SECTIONS="0 3" to rerun two), DEVICE_CHECK_BUDGET (450),
# DEVICE_CHECK_MODE (gpu | cpu; default: what torch sees).

# The sections run as exported functions in `bash -c`, where SECTION and SECTION_END are set.
# shellcheck disable=SC2329,SC2153
set +e
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
REPO=$PWD
OUT=${OUT:-/tmp/device_check_out}
PY=${PY:-python3}
BUDGET=${DEVICE_CHECK_BUDGET:-450}
SECTIONS=${SECTIONS:-0 2 3 4a 5 4b 1 5b}
WORK=/tmp/device_check_work
SITE=/tmp/site
START=$(date +%s)

mkdir -p "$OUT" || exit 1
rm -rf "$WORK"
mkdir -p "$WORK/figures" "$WORK/logs"
: >"$WORK/sections.tsv"
: >"$WORK/steps.tsv"
LOG=$OUT/device_check.log
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1
TEE_PID=$!
export REPO OUT PY WORK START BUDGET LOG
export TQDM_MININTERVAL=10 PYTHONUNBUFFERED=1

# --- helpers run by the sections (in a fresh `bash -c`, so exported) --------------------

# step NAME LIMIT COMMAND...: one command of a section under its own timeout (at most what
# the section has left, less 5 s), its output shown and kept in $WORK/logs/NAME.txt, its
# exit code in $WORK/steps.tsv. Returns the command's exit code.
step() {
  local name=$1 limit=$2 left t0 rc
  shift 2
  left=$((SECTION_END - $(date +%s) - 5))
  ((left < limit)) && limit=$left
  if ((limit < 3)); then
    echo "[$name] skipped: the section's time is up"
    printf '%s\t%s\t%s\t%s\n' "$SECTION" "$name" skipped 0 >>"$WORK/steps.tsv"
    return 125
  fi
  echo "[$name] \$ $* (timeout ${limit}s)"
  t0=$(date +%s)
  timeout -k 5 "$limit" "$@" </dev/null 2>&1 | tee "$WORK/logs/$name.txt"
  rc=${PIPESTATUS[0]}
  echo "[$name] exit $rc after $(($(date +%s) - t0)) s"
  printf '%s\t%s\t%s\t%s\n' "$SECTION" "$name" "$rc" "$(($(date +%s) - t0))" >>"$WORK/steps.tsv"
  return "$rc"
}

# The generated datasets (shared by the sections; made by the first that needs one).
data64() {
  [[ -f $WORK/data64.ok ]] && return 0
  step data64 120 "$PY" -m keyvid data synth "$WORK/data64" --train 18 --test 9 --frames 16 \
    --overwrite && touch "$WORK/data64.ok"
}
data128() {
  [[ -f $WORK/data128.ok ]] && return 0
  step data128 120 "$PY" -m keyvid data synth "$WORK/data128" --size 128 --train 18 --test 9 \
    --frames 16 --overwrite && touch "$WORK/data128.ok"
}

# Sizes per mode: the configs' own on the GPU; tiny networks and one thread on a CPU.
sizes() {
  if [[ $MODE == gpu ]]; then
    DEVICE=cuda
    S1_SIZE=()
  else
    DEVICE=cpu
    S1_SIZE=(model.num_keypoints=4 model.image_size=32 model.detector.channels=4
      model.detector.num_down=2 model.translator.channels=4 model.translator.max_channels=8
      model.translator.feature_size=8 model.translator.sigma=0.15
      model.discriminator.channels=4 model.discriminator.num_layers=3 optim.batch_size=4
      data.num_workers=0 optim.threads=1)
  fi
}

# --- the sections: each returns its number of failed commands ---------------------------

section_0() {
  local fails=0
  if command -v nvidia-smi >/dev/null; then
    step s0-nvidia-smi 30 nvidia-smi || fails=$((fails + 1))
  else
    echo "no nvidia-smi on this machine"
  fi
  cat "$WORK/logs/s0-pyav.txt" 2>/dev/null
  echo "PYTHONPATH=$PYTHONPATH"
  step s0-imports 90 "$PY" "$WORK/tools.py" setup || fails=$((fails + 1))
  step s0-cli 60 "$PY" -m keyvid --version || fails=$((fails + 1))
  return "$fails"
}

section_2() {
  local fails=0 p run n every expect
  sizes
  data64 || fails=$((fails + 1))
  if [[ $MODE == gpu ]]; then n=30 every=10; else n=4 every=2; fi
  for p in fp16 bf16; do
    run=$WORK/s2-$p
    step "s2-$p" 150 "$PY" -m keyvid train stage1 --config configs/synth.yaml --run-dir "$run" \
      "data.root=$WORK/data64" loss.reconstruction=pixel loss.adversarial_weight=1.0 \
      "optim.device=$DEVICE" "optim.precision=$p" "optim.steps=$n" "log.log_every=$every" \
      "log.eval_every=$n" log.eval_train_frames=200 log.eval_test_frames=100 \
      "log.sample_every=$n" "log.checkpoint_every=$n" log.tensorboard=false "${S1_SIZE[@]}" ||
      fails=$((fails + 1))
    expect=()
    if [[ $MODE == gpu ]]; then
      expect=(--forbid "needs a GPU" --forbid "no bfloat16 support")
      [[ $p == fp16 ]] && expect+=(--scaler)
    elif [[ $p == fp16 ]]; then
      expect=(--expect "fp16 needs a GPU; using bf16")  # the documented CPU fallback
    fi
    step "s2-$p-check" 60 "$PY" "$WORK/tools.py" check-run "$run" --section 2 --name "$p" \
      --steps "$n" --log "$WORK/logs/s2-$p.txt" --samples "${expect[@]}" || fails=$((fails + 1))
  done
  return "$fails"
}

section_3() {
  local fails=0 n backend bn run common
  sizes
  data64 || fails=$((fails + 1))
  if [[ $MODE == gpu ]]; then n=20 backend=nccl bn=SyncBatchNorm; else
    n=3 backend=gloo bn=AllReduceBatchNorm
  fi
  local torchrun=("$PY" -m torch.distributed.run --standalone --nproc-per-node=1)
  common=(--config configs/synth.yaml "data.root=$WORK/data64" loss.reconstruction=pixel
    loss.adversarial_weight=1.0 "optim.device=$DEVICE" "optim.steps=$n" log.log_every=1
    log.eval_every=0 log.sample_every=0 "log.checkpoint_every=$n" log.tensorboard=false
    "${S1_SIZE[@]}")
  # (a) as a user would run it on one GPU
  run=$WORK/s3-torchrun
  step s3a-torchrun 100 "${torchrun[@]}" -m keyvid train stage1 \
    --run-dir "$run" "${common[@]}" || fails=$((fails + 1))
  step s3a-check 60 "$PY" "$WORK/tools.py" check-run "$run" --section 3 --name a-torchrun \
    --steps "$n" --log "$WORK/logs/s3a-torchrun.txt" --report "distributed:" \
    --report "backend $backend" || fails=$((fails + 1))
  # (b) the same process counted as distributed: a process group of one
  run=$WORK/s3-group
  step s3b-group 100 "${torchrun[@]}" "$WORK/force_world.py" train stage1 \
    --run-dir "$run" "${common[@]}"
  local rc_b=$?
  ((rc_b != 0)) && fails=$((fails + 1))
  step s3b-check 60 "$PY" "$WORK/tools.py" check-run "$run" --section 3 --name b-group \
    --steps "$n" --log "$WORK/logs/s3b-group.txt" --expect "backend $backend" \
    --expect "DEVICE_CHECK batch norm" --expect "$bn" --expect "wrapper DistributedDataParallel" \
    --rng-ranks 1 || fails=$((fails + 1))
  # (c) if (b) failed on the GPU (always on a CPU, to check the command): CPU collectives on gloo
  if [[ $MODE != gpu || $rc_b != 0 ]]; then
    run=$WORK/s3-mixed
    step s3c-mixed 100 env DC_MIXED_BACKEND=1 "${torchrun[@]}" "$WORK/force_world.py" train \
      stage1 --run-dir "$run" "${common[@]}"
    step s3c-check 60 "$PY" "$WORK/tools.py" check-run "$run" --section 3 --name c-mixed \
      --steps "$n" --log "$WORK/logs/s3c-mixed.txt" --expect "backend" --expect "$bn" \
      --expect "wrapper DistributedDataParallel" --rng-ranks 1
    # (c) is a diagnosis: its result is in the figures, not in the section's exit code
  fi
  return "$fails"
}

section_4a() {
  local fails=0 v run n every size data extra
  sizes
  data64 || fails=$((fails + 1))
  if [[ $MODE == gpu ]]; then
    data128 || fails=$((fails + 1))
  fi
  local log=(log.eval_every=0 log.sample_every=0 log.checkpoint_every=100000
    log.tensorboard=false)
  local cases=("synth fp32" "synth bf16" "paper fp32" "paper bf16")
  [[ $MODE == gpu ]] || cases=("synth fp32" "paper bf16")
  for c in "${cases[@]}"; do
    read -r size v <<<"$c"
    case $v in
      fp32) extra=() ;;
      bf16) extra=(optim.precision=bf16) ;;
    esac
    if [[ $MODE != gpu ]]; then n=4 every=2 data=$WORK/data64 extra+=("${S1_SIZE[@]}")
    elif [[ $size == synth ]]; then n=40 every=10 data=$WORK/data64 extra+=(data.num_workers=4)
    else n=20 every=5 data=$WORK/data128; fi
    local config=configs/synth.yaml
    [[ $size == paper ]] && config=configs/penn.yaml
    run=$WORK/s4a-$size-$v
    step "s4a-$size-$v" 100 "$PY" -m keyvid train stage1 --config "$config" --run-dir "$run" \
      "data.root=$data" loss.reconstruction=pixel "optim.device=$DEVICE" "optim.steps=$n" \
      "log.log_every=$every" "${log[@]}" "${extra[@]}" || fails=$((fails + 1))
    step "s4a-$size-$v-check" 60 "$PY" "$WORK/tools.py" check-run "$run" --section 4a \
      --name "$size-$v" --steps "$n" --log "$WORK/logs/s4a-$size-$v.txt" --speed ||
      fails=$((fails + 1))
  done
  return "$fails"
}

section_5() {  # the whole chain, tiny (about 25 s on one CPU thread)
  local fails=0
  step s5-tiny 100 "$PY" -m keyvid recipe synth --tiny --out "$WORK/recipe-tiny" ||
    fails=$((fails + 1))
  step s5-tiny-report 15 "$PY" "$WORK/tools.py" recipe "$WORK/recipe-tiny" --name tiny \
    --complete --log "$WORK/logs/s5-tiny.txt" || fails=$((fails + 1))
  return "$fails"
}

section_5b() {  # the real synth recipe in what is left: how far it gets
  local fails=0 left
  left=$((SECTION_END - $(date +%s) - 25))
  if [[ $MODE == gpu ]] && ((left < 30)); then
    echo "only $left s left: the real recipe is not started"
  elif [[ $MODE == gpu ]]; then
    # its time box ending it is expected, not a failure
    step s5b-full "$left" "$PY" -m keyvid recipe synth --out "$WORK/recipe-full"
  else
    step s5b-dry-run 30 "$PY" -m keyvid recipe synth --dry-run || fails=$((fails + 1))
  fi
  step s5b-report 15 "$PY" "$WORK/tools.py" recipe "$WORK/recipe-full" --name full \
    --log "$WORK/logs/s5b-full.txt"
  return "$fails"
}

section_4b() {
  local fails=0 f
  if [[ $MODE == gpu ]]; then
    step s4b-train-speed 200 "$PY" -m benchmarks.train_speed --quick --no-compile --no-ddp ||
      fails=$((fails + 1))
    step s4b-predict 150 "$PY" -m benchmarks.predict --repeats 1 --name device_check_predict ||
      fails=$((fails + 1))
  else  # on a CPU session's machine: their arguments only (a run rewrites benchmarks/results)
    step s4b-train-speed-help 30 "$PY" -m benchmarks.train_speed --help || fails=$((fails + 1))
    step s4b-predict-help 30 "$PY" -m benchmarks.predict --help || fails=$((fails + 1))
  fi
  for f in train_speed_quick device_check_predict; do
    if [[ $MODE == gpu && -f benchmarks/results/$f.json ]]; then
      cp "benchmarks/results/$f.json" "$OUT/$f.json" && echo "copied $f.json to $OUT"
    else
      echo "benchmarks/results/$f.json: not written by this run"
    fi
  done
  step s4b-figures 15 "$PY" "$WORK/tools.py" bench "$OUT/train_speed_quick.json" \
    "$OUT/device_check_predict.json"
  return "$fails"
}

section_1() {
  local fails=0 cuda_tests
  cuda_tests=$(grep -rlE "skipif\(.*cuda|cuda\.is_available\(\)|mark\.(cuda|gpu)" tests \
    --include='*.py' | sort | tr '\n' ' ')
  if [[ -n $cuda_tests ]]; then
    # shellcheck disable=SC2086  # one argument per file
    step s1-cuda-tests 120 "$PY" -m pytest -x -q -p no:cacheprovider $cuda_tests ||
      fails=$((fails + 1))
  else
    echo "no test in tests/ needs CUDA (every training test pins optim.device=cpu)"
  fi
  local harness=(tests/training/harness/test_precision.py)
  if [[ $MODE == gpu ]]; then
    harness+=(tests/training/harness/test_distributed.py
      -k "not distributed or two_processes_train_the_same or uneven or batch_norm_swap")
  else
    harness+=(-k "falls_back or reaches")  # two quick tests: the command, not the suite
  fi
  step s1-harness 150 "$PY" -m pytest -x -q -p no:cacheprovider "${harness[@]}" ||
    fails=$((fails + 1))
  step s1-figures 15 "$PY" "$WORK/tools.py" pytest --cuda-test-files "$cuda_tests" \
    "$WORK/logs/s1-cuda-tests.txt" "$WORK/logs/s1-harness.txt"
  return "$fails"
}

export -f step data64 data128 sizes section_0 section_1 section_2 section_3 section_4a \
  section_4b section_5 section_5b

# --- the section runner ------------------------------------------------------------------

declare -A TITLE=([0]="setup" [1]="pytest (CUDA tests, harness)" [2]="fp16 + GradScaler, bf16"
  [3]="NCCL + SyncBatchNorm (torchrun)" [4a]="GPU training speed" [4b]="CPU benchmarks"
  [5]="recipe synth --tiny" [5b]="recipe synth (real), time-boxed")
declare -A LIMIT=([0]=90 [1]=120 [2]=150 [3]=200 [4a]=150 [4b]=150 [5]=100 [5b]=180)

summary() { "$PY" "$WORK/tools.py" summary "$@"; }

run_section() {
  local id=$1 limit=${LIMIT[$1]} left t0 rc status
  left=$((BUDGET - ($(date +%s) - START)))
  ((left < limit)) && limit=$left
  echo
  echo "=== section $id: ${TITLE[$id]} (limit ${limit} s; $left s of the budget left) ==="
  if ((limit < 20)); then
    echo "section $id skipped: the budget (DEVICE_CHECK_BUDGET=$BUDGET s) is spent"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "${TITLE[$id]}" "" skipped 0 "$limit" \
      >>"$WORK/sections.tsv"
    return
  fi
  t0=$(date +%s)
  SECTION=$id SECTION_END=$((t0 + limit)) timeout -k 10 "$limit" bash -c "section_$id" </dev/null
  rc=$?
  # timeout: the section, or every failed command in it, ran out of time; fail: any other
  case $rc in
    0) status=pass ;;
    124 | 137) status=timeout ;;
    *) status=fail
      awk -F'\t' -v id="$id" '$1 == id && $3 != 0 && $3 != "skipped" && $3 != 124 &&
        $3 != 137 { bad = 1 } END { exit bad }' "$WORK/steps.tsv" && status=timeout ;;
  esac
  echo "=== section $id: $status (exit $rc) after $(($(date +%s) - t0)) s ==="
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "${TITLE[$id]}" "$rc" "$status" \
    "$(($(date +%s) - t0))" "$limit" >>"$WORK/sections.tsv"
  summary >/dev/null
}

# --- the helper programs (written here, run from $WORK: not part of the package) --------

cat >"$WORK/force_world.py" <<'PYEOF'
"""device_check.sh, section 3: keyvid's trainer in a process group of one.

keyvid joins a process group only when WORLD_SIZE > 1 (keyvid.distributed.join), and NCCL
refuses two ranks on one GPU. Run under `torchrun --nproc-per-node 1`, this counts the one
process as distributed, so that init_process_group (NCCL on a GPU), SyncBatchNorm, DDP and
every collective of the training loop run for real, with one rank. It prints the batch-norm
classes and the wrapper each trained network gets. DC_MIXED_BACKEND=1 turns backend "nccl"
into "cpu:gloo,cuda:nccl" (collectives of CPU tensors on gloo).
"""

import collections
import os
import sys

import torch.distributed as dist
from torch.nn.modules.batchnorm import _BatchNorm

import keyvid.distributed
import keyvid.training.harness.session as session

keyvid.distributed.World.distributed = property(lambda self: True)


def say(text):
    print(f"DEVICE_CHECK {text}", file=sys.stderr, flush=True)


if os.environ.get("DC_MIXED_BACKEND") == "1":
    _init = dist.init_process_group

    def init_process_group(backend=None, *args, **kwargs):
        if backend == "nccl":
            backend = "cpu:gloo,cuda:nccl"
        say(f"init_process_group(backend={backend!r})")
        return _init(backend, *args, **kwargs)

    dist.init_process_group = init_process_group

_sync_batch_norm, _parallel = session.sync_batch_norm, session.parallel


def sync_batch_norm(module, world, device):
    out = _sync_batch_norm(module, world, device)
    kinds = collections.Counter(type(m).__name__ for m in out.modules() if isinstance(m, _BatchNorm))
    say(f"batch norm of {type(module).__name__} on {device}: {dict(kinds) or 'none'}")
    return out


def parallel(module, world, device):
    out = _parallel(module, world, device)
    backend = dist.get_backend() if dist.is_initialized() else None
    size = dist.get_world_size() if dist.is_initialized() else 1
    say(f"wrapper {type(out).__name__} of {type(module).__name__}: backend {backend}, world {size}")
    return out


session.sync_batch_norm, session.parallel = sync_batch_norm, parallel

from keyvid.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
PYEOF

cat >"$WORK/tools.py" <<'PYEOF'
"""device_check.sh's checks and its summary (written there at run time)."""

import argparse
import importlib
import json
import math
import os
import platform
import re
import sys
from pathlib import Path

WORK = Path(os.environ["WORK"])


def save(section, name, figures):
    (WORK / "figures").mkdir(parents=True, exist_ok=True)
    path = WORK / "figures" / f"{section}__{name}.json"
    path.write_text(json.dumps(figures, indent=1, default=str))
    print("figures:", json.dumps(figures, default=str)[:3000])


def setup(a):
    fig, problems = {"python": platform.python_version(), "executable": sys.executable}, []
    try:
        import torch

        fig.update(torch=torch.__version__, cuda_build=torch.version.cuda,
                   cuda_available=torch.cuda.is_available(), threads=torch.get_num_threads())
        if torch.cuda.is_available():
            fig.update(gpu=torch.cuda.get_device_name(0), gpus=torch.cuda.device_count(),
                       capability=list(torch.cuda.get_device_capability(0)),
                       bf16_supported=torch.cuda.is_bf16_supported(),
                       gpu_memory_gib=round(torch.cuda.mem_get_info()[1] / 2**30, 1))
            x = torch.randn(512, 512, device="cuda")
            fig["cuda_matmul_finite"] = bool(torch.isfinite(x @ x).all())
            try:
                fig["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
            except Exception as e:
                fig["nccl"] = f"? ({e})"
        import torch.distributed as dist

        fig["nccl_available"] = dist.is_available() and dist.is_nccl_available()
    except Exception as e:
        problems.append(f"torch: {e!r}")
    for mod in ("av", "numpy", "PIL", "imageio", "yaml", "safetensors", "tqdm", "tensorboard",
                "scipy", "onnx", "onnxruntime", "pytest", "hypothesis"):
        try:
            m = importlib.import_module(mod)
            fig[mod] = getattr(m, "__version__", "?")
        except Exception as e:
            fig[mod] = f"MISSING ({e})"
            if mod == "av":
                problems.append(f"PyAV: {e!r} (carry .whl/ with the av wheel)")
    try:
        import keyvid
        import keyvid.cli
        import keyvid.io

        fig.update(keyvid=keyvid.__version__, keyvid_from=str(Path(keyvid.__file__).parent))
    except Exception as e:
        problems.append(f"import keyvid: {e!r}")
        print(f"!!! import keyvid FAILED: {e!r}", flush=True)
    fig["problems"] = problems
    save("0", "setup", fig)
    return 1 if problems else 0


def check_run(a):
    """A training run's folder: finite losses and weights, its checkpoint, speed, the log."""
    run, fig, problems = Path(a.run), {"run": a.run}, []
    metrics = run / "metrics.jsonl"
    rows = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()] if (
        metrics.exists()) else []
    if not rows:
        problems.append("no rows in metrics.jsonl")
    losses = {}
    for r in rows:
        for k, v in r.items():
            if k.startswith("loss/") and isinstance(v, (int, float)):
                losses.setdefault(k, []).append(v)
    bad = [k for k, vs in losses.items() if not all(math.isfinite(v) for v in vs)]
    if bad:
        problems.append(f"non-finite losses: {bad}")
    fig["last_step"] = max((r.get("step", 0) for r in rows), default=0)
    if a.steps and fig["last_step"] != a.steps:
        problems.append(f"reached step {fig['last_step']}, not {a.steps}")
    fig["loss_first"] = {k: vs[0] for k, vs in losses.items()}
    fig["loss_last"] = {k: vs[-1] for k, vs in losses.items()}
    skipped = [r["train/skipped_nonfinite"] for r in rows if "train/skipped_nonfinite" in r]
    if skipped:
        fig["skipped_nonfinite_mean"] = sum(skipped) / len(skipped)
    rates = [r["pairs_per_s"] for r in rows if "pairs_per_s" in r]
    if rates:
        steady = rates[1:] or rates  # the first window holds the start-up
        fig["pairs_per_s"] = sum(steady) / len(steady)
        fig["pairs_per_s_windows"] = [round(x, 2) for x in rates]
    if a.speed and rates and (run / "config.yaml").exists():
        import yaml

        config = yaml.safe_load((run / "config.yaml").read_text())
        optim, model = config.get("optim", {}), config.get("model", {})
        fig.update(batch=optim.get("batch_size"), image_size=model.get("image_size"),
                   num_keypoints=model.get("num_keypoints"), precision=optim.get("precision"),
                   step_s=optim.get("batch_size", 0) / fig["pairs_per_s"])
    evals = {k: v for r in rows for k, v in r.items() if k.startswith("eval")}
    if evals:
        fig["eval_last"] = evals
    if a.samples:
        fig["sample_grids"] = len(list((run / "samples").glob("*.png")))
        if not fig["sample_grids"]:
            problems.append("no sample grid written")
    ckpts = sorted((run / "checkpoints").glob("step_*"))
    if not ckpts:
        problems.append("no checkpoint written")
    else:
        try:
            import torch

            from keyvid.checkpoint import load_checkpoint

            ckpt = load_checkpoint(ckpts[-1])
            fig["checkpoint"] = ckpts[-1].name
            nonfinite = [k for k, v in ckpt.weights.items()
                         if v.is_floating_point() and not bool(torch.isfinite(v).all())]
            if nonfinite:
                problems.append(f"non-finite weights: {nonfinite[:5]}")
            state = ckpt.training_state()
            scaler = state.get("precision", {}).get("scaler")
            fig["grad_scaler_scale"] = float(scaler["scale"]) if scaler else None
            if a.scaler and not scaler:
                problems.append("no GradScaler state in the checkpoint (fp16 without a scaler?)")
            fig["rng_ranks_saved"] = len(state.get("torch_rng_ranks", []))
            if a.rng_ranks is not None and fig["rng_ranks_saved"] != a.rng_ranks:
                problems.append(f"{fig['rng_ranks_saved']} ranks' RNG states saved, "
                                f"not {a.rng_ranks} (gather_objects)")
        except Exception as e:
            problems.append(f"reading the checkpoint: {e!r}")
    text = Path(a.log).read_text(errors="replace") if a.log and Path(a.log).exists() else ""
    for pattern in a.expect:
        if pattern not in text:
            problems.append(f"log lacks {pattern!r}")
    for pattern in a.forbid:
        if pattern in text:
            problems.append(f"log has {pattern!r}")
    fig["log_has"] = {p: p in text for p in a.report}
    keep = ("DEVICE_CHECK", "distributed:", "WARNING", "Error", "error:")
    fig["log_lines"] = [x.strip()[:300] for x in text.splitlines() if any(k in x for k in keep)]
    fig["log_lines"] = fig["log_lines"][:12]
    if problems and text:
        fig["log_tail"] = text.strip().splitlines()[-8:]
    fig["problems"] = problems
    save(a.section, a.name, fig)
    for p in problems:
        print(f"CHECK FAILED ({a.section} {a.name}): {p}")
    return 1 if problems else 0


def recipe(a):
    """How far a recipe got: finished steps and their seconds, the unfinished step's run."""
    out, fig, problems = Path(a.out), {}, []
    state_file = out / "recipe.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        steps = list(state["recipe"]["steps"])
        done = state["finished"]
        current = next((s for s in steps if s not in done), None)
        fig.update(steps_total=len(steps), steps_finished=len(done),
                   finished={k: v["seconds"] for k, v in done.items()}, unfinished_step=current,
                   evaluation_written=(out / "evaluation" / "metrics.json").exists())
        metrics = out / str(current) / "metrics.jsonl"
        if current and metrics.exists():  # a training step cut by the time box
            rows = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
            rates = [r["pairs_per_s"] for r in rows if "pairs_per_s" in r]
            fig["unfinished_run"] = {
                "last_logged_step": max((r.get("step", 0) for r in rows), default=0),
                "seconds": rows[-1].get("time") if rows else None,
                "pairs_per_s": sum(rates[1:]) / len(rates[1:]) if len(rates) > 1 else None,
                "last": {k: v for k, v in (rows[-1] if rows else {}).items()
                         if k.startswith(("loss/", "eval"))},
            }
    else:
        fig["recipe_json"] = "absent (a --dry-run, or the recipe did not start)"
    if a.log and Path(a.log).exists():
        text = Path(a.log).read_text(errors="replace")
        fig["log_tail"] = [x[-300:] for x in text.strip().splitlines()[-6:]]
        if a.complete and ("Traceback" in text or "\nerror:" in text):
            problems.append("the recipe's log shows an error")
    if a.complete and fig.get("steps_finished") != fig.get("steps_total", -1):
        problems.append("the recipe did not finish")
    fig["problems"] = problems
    save(a.section, f"recipe-{a.name}", fig)
    return 1 if problems else 0


def bench(a):
    fig = {}
    for name in a.files:
        path = Path(name)
        if not path.exists():
            fig[path.stem] = "absent"
            continue
        data = json.loads(path.read_text())
        rows = []
        for r in data.get("results", []):
            keep = ("model", "variant", "case", "step_s", "items_per_s", "seconds",
                    "frames_per_s", "fraction_of_peak", "error")
            rows.append({k: (round(v, 4) if isinstance(v, float) else v)
                         for k, v in r.items() if k in keep})
        fig[path.stem] = {"machine": data.get("machine"), "rows": rows}
        peak = data.get("peak_flops")
        if peak:
            fig[path.stem]["peak_gflops"] = {k: round(v / 1e9) for k, v in peak.items()
                                             if k.startswith("peak")}
    fig["note"] = "CPU figures: benchmarks.train_speed and benchmarks.predict pin the CPU"
    save("4b", "benchmarks", fig)
    return 0


def pytest_figures(a):
    fig = {"cuda_test_files": a.cuda_test_files.split()}
    for name in a.logs:
        path = Path(name)
        if not path.exists():
            continue
        text = path.read_text(errors="replace")
        lines = [x for x in text.splitlines() if re.search(r"\d+ (passed|failed|error)", x)]
        fig[path.stem] = lines[-1].strip() if lines else text.strip().splitlines()[-3:]
    save("1", "pytest", fig)
    return 0


def summary(a):
    sections = []
    steps = [x.split("\t") for x in (WORK / "steps.tsv").read_text().splitlines() if x]
    for line in (WORK / "sections.tsv").read_text().splitlines():
        sid, title, rc, status, seconds, limit = line.split("\t")
        figures = {}
        for path in sorted((WORK / "figures").glob(f"{sid}__*.json")):
            figures[path.stem.split("__", 1)[1]] = json.loads(path.read_text())
        sections.append({
            "section": sid, "title": title, "status": status,
            "exit_code": int(rc) if rc else None, "seconds": int(seconds),
            "limit_s": int(limit),
            "commands": [{"name": s[1], "seconds": int(s[3]),
                          "exit_code": int(s[2]) if s[2].lstrip("-").isdigit() else s[2]}
                         for s in steps if s[0] == sid],
            "figures": figures,
        })
    import time

    result = {
        "mode": os.environ.get("MODE"), "budget_s": int(os.environ["BUDGET"]),
        "elapsed_s": int(time.time()) - int(os.environ["START"]),
        "all_passed": all(s["status"] == "pass" for s in sections),
        "sections": sections,
    }
    out = Path(os.environ["OUT"]) / "device_check.json"
    out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    if a.table:
        print(f"{'section':<8} {'status':<8} {'exit':>4} {'seconds':>7}  title")
        for s in sections:
            rc = "" if s["exit_code"] is None else s["exit_code"]
            print(f"{s['section']:<8} {s['status']:<8} {rc!s:>4} {s['seconds']:>7}  {s['title']}")
        print(f"{result['elapsed_s']} s in all (mode {result['mode']}); written {out}")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("setup")
    c = sub.add_parser("check-run")
    c.add_argument("run")
    c.add_argument("--section", required=True)
    c.add_argument("--name", required=True)
    c.add_argument("--steps", type=int)
    c.add_argument("--log")
    c.add_argument("--expect", action="append", default=[])
    c.add_argument("--forbid", action="append", default=[])
    c.add_argument("--report", action="append", default=[])
    c.add_argument("--scaler", action="store_true")
    c.add_argument("--samples", action="store_true")
    c.add_argument("--speed", action="store_true")
    c.add_argument("--rng-ranks", type=int)
    r = sub.add_parser("recipe")
    r.add_argument("out")
    r.add_argument("--name", required=True)
    r.add_argument("--section", default=os.environ.get("SECTION", "5"))
    r.add_argument("--complete", action="store_true", help="a problem unless it finished")
    r.add_argument("--log")
    b = sub.add_parser("bench")
    b.add_argument("files", nargs="*")
    t = sub.add_parser("pytest")
    t.add_argument("--cuda-test-files", default="")
    t.add_argument("logs", nargs="*")
    s = sub.add_parser("summary")
    s.add_argument("--table", action="store_true")
    a = p.parse_args()
    run = {"setup": setup, "check-run": check_run, "recipe": recipe, "bench": bench,
           "pytest": pytest_figures, "summary": summary}[a.cmd]
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
PYEOF

# --- setup of the environment (this shell: the sections inherit it) ---------------------

echo "device_check: $(date -u +%FT%TZ) in $REPO, budget $BUDGET s, sections: $SECTIONS"
t0=$(date +%s)
{
  if timeout 60 "$PY" -c "import av" 2>/dev/null; then
    echo "PyAV: already importable ($("$PY" -c 'import av; print(av.__version__)'))"
  elif compgen -G ".whl/*.whl" >/dev/null; then
    echo "PyAV: installing $(ls .whl/*.whl) into $SITE"
    timeout 120 "$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade \
      --target "$SITE" .whl/*.whl
    rc=$?
    echo "pip exit $rc"
    if ((rc != 0)); then  # no pip: a wheel is a zip of the installed files
      echo "PyAV: unpacking the wheel into $SITE instead"
      mkdir -p "$SITE" && for w in .whl/*.whl; do "$PY" -m zipfile -e "$w" "$SITE"; done
    fi
    PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH} "$PY" -c \
      'import av; print("PyAV", av.__version__, "from", av.__file__)' || echo "!!! PyAV: still no import"
  else
    echo "!!! PyAV is missing and no .whl/ was carried: keyvid.io (and so training) will fail"
  fi
} 2>&1 | tee "$WORK/logs/s0-pyav.txt"
[[ -d $SITE ]] && export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
export PYTHONPATH=$REPO/src${PYTHONPATH:+:$PYTHONPATH}
MODE=${DEVICE_CHECK_MODE:-$(timeout 120 "$PY" -c \
  'import torch; print("gpu" if torch.cuda.is_available() else "cpu")' 2>/dev/null)}
[[ $MODE == gpu ]] || MODE=cpu
if [[ $MODE == cpu ]]; then
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
  echo "mode cpu: no CUDA; every section runs its smallest CPU form (a check of this script)"
fi
export MODE
printf '%s\t%s\t%s\t%s\n' 0 pyav-and-mode "$(grep -q '^!!!' "$WORK/logs/s0-pyav.txt" && echo 1 ||
  echo 0)" "$(($(date +%s) - t0))" >>"$WORK/steps.tsv"

for id in $SECTIONS; do
  if [[ -z ${LIMIT[$id]} ]]; then
    echo "unknown section $id (known: 0 1 2 3 4a 4b 5 5b)"
    continue
  fi
  run_section "$id"
  if [[ $id == 0 ]] && ! awk -F'\t' '$1 == "0" && $4 == "pass" { ok = 1 } END { exit !ok }' \
    "$WORK/sections.tsv"; then
    echo "!!! setup failed (see above: PyAV, torch or \`import keyvid\`): the other sections"
    echo "!!! run anyway, and are likely to fail for the same reason"
  fi
done

echo
echo "=== summary ==="
summary --table
[[ $MODE == gpu ]] && command -v nvidia-smi >/dev/null &&
  nvidia-smi --query-gpu=name,memory.used,memory.total,temperature.gpu --format=csv
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null
exit 0
