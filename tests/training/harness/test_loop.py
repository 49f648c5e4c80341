"""The training loop stops cleanly on SIGTERM / SIGINT (the step finishes, a checkpoint is
saved, and a real training process killed that way resumes from it) and survives NaN/Inf
(the update is skipped; a run that keeps producing them stops with its last good weights)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from keyvid.errors import KeyvidError, TrainingStopped
from keyvid.models.load import load_classifier
from keyvid.training.config import LogConfig
from keyvid.training.harness.loop import NONFINITE, run_loop
from keyvid.training.harness.run import RunLogger
from keyvid.training.harness.state import step_if_finite
from tests.training.test_classifier import TINY, write_motion_dataset


@dataclass
class CountingState:
    opt_g: torch.optim.Optimizer | None = None
    opt_d: None = None
    step: int = 0

    def networks(self) -> dict:
        return {}


def hundred_steps(tmp_path: Path, state, step_fn, checkpoint, **kwargs) -> Path:
    """``run_loop`` over 100 empty batches, logging every step, checkpointing every 50."""
    return run_loop(
        iter([{}] * 100),
        state,
        step_fn,
        steps=100,
        log=RunLogger(tmp_path, tensorboard=False),
        cadence=LogConfig(log_every=1, checkpoint_every=50, tensorboard=False),
        items_per_step=1,
        rate_name="items_per_s",
        checkpoint=checkpoint,
        desc="test",
        progress=False,
        **kwargs,
    )


def loop_with_signal(tmp_path: Path, signum: int, at_step: int, saved: list[int]) -> None:
    """Run 100 steps, sending ``signum`` to this process during step ``at_step``; the steps
    checkpointed are appended to ``saved``."""
    state = CountingState()

    def step_fn(batch: dict) -> dict[str, float]:
        state.step += 1
        if state.step == at_step:
            os.kill(os.getpid(), signum)  # arrives mid-step, as a real one would
        return {"loss": 1.0}

    def checkpoint() -> Path:
        saved.append(state.step)
        return tmp_path / f"step_{state.step:08d}"

    hundred_steps(tmp_path, state, step_fn, checkpoint)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_the_step_saves_and_stops(tmp_path, signum):
    before, saved = signal.getsignal(signum), []
    with pytest.raises(TrainingStopped) as stopped:
        loop_with_signal(tmp_path, signum, 3, saved)
    assert saved == [3] and stopped.value.signum == signum
    assert stopped.value.checkpoint == tmp_path / "step_00000003"
    assert signal.getsignal(signum) is before  # the handler is put back


def test_no_second_checkpoint_when_the_step_was_just_saved(tmp_path):
    saved = []
    with pytest.raises(TrainingStopped) as stopped:
        loop_with_signal(tmp_path, signal.SIGTERM, 50, saved)
    # checkpoint_every=50 saved step 50 already; stopping reuses it.
    assert saved == [50] and stopped.value.checkpoint == tmp_path / "step_00000050"


def test_sigterm_to_a_training_process_leaves_a_checkpoint_to_resume(tmp_path):
    data = write_motion_dataset(tmp_path / "data", train=2, test=1)
    run = tmp_path / "run"
    args = [sys.executable, "-m", "keyvid", "train", "classifier", "--data", str(data)]
    args += ["--run", str(run), *TINY, "log.log_every=1", "optim.steps=1000000"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    metrics = run / "metrics.jsonl"
    deadline = time.time() + 120
    while (not metrics.exists() or metrics.read_text().count("\n") < 3) and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM: checkpoint saved at" in err and "Traceback" not in err
    saved = sorted((run / "checkpoints").glob("step_*"))
    assert saved, err
    _, ckpt = load_classifier(saved[-1])  # readable, at a real step
    assert ckpt.step >= 3
    resumed = subprocess.run(
        [sys.executable, "-m", "keyvid", "train", "classifier", "--resume", str(run),
         f"optim.steps={ckpt.step + 2}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert f"step_{ckpt.step + 2:08d}" in resumed.stdout


def test_a_nan_loss_skips_the_update_and_keeps_the_weights():
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    before = [p.detach().clone() for p in net.parameters()]
    loss = net(torch.tensor([[float("nan"), 1.0, 2.0]])).sum()
    loss.backward()
    assert not step_if_finite(opt, loss)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    assert all(p.grad is None for p in net.parameters()) and not opt.state  # moments untouched
    loss = net(torch.ones(1, 3)).sum()
    loss.backward()
    assert step_if_finite(opt, loss)
    assert not torch.equal(before[0], net.weight)


def test_a_run_that_keeps_producing_nans_stops_with_a_good_checkpoint(tmp_path):
    state, saved = CountingState(), []

    def step_fn(batch: dict) -> dict[str, float]:
        state.step += 1
        return {"loss": float("nan"), NONFINITE: float(state.step > 5)}

    def checkpoint() -> Path:
        saved.append(state.step)
        return tmp_path / f"step_{state.step:08d}"

    with pytest.raises(KeyvidError, match="NaN/Inf for 4 steps in a row"):
        hundred_steps(tmp_path, state, step_fn, checkpoint, nonfinite_patience=4)
    assert saved == [9]  # steps 6-9 were skipped: their weights are step 5's


def test_a_classifier_batch_with_nan_pixels_is_skipped(tmp_path):
    from keyvid.models.classifier import ActionClassifier, ActionClassifierConfig
    from keyvid.training.classifier import ClassifierState, train_step
    from keyvid.training.config import ClassifierConfig

    torch.manual_seed(0)
    net = ActionClassifier(ActionClassifierConfig(num_actions=3, frames=4, channels=4, features=8))
    state = ClassifierState(net, torch.optim.Adam(net.parameters()))
    frames = torch.rand(2, 4, 3, 16, 16)
    frames[0, 0, 0, 0, 0] = float("nan")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    logged = train_step(
        state, {"frames": frames, "action": torch.tensor([0, 1])}, ClassifierConfig()
    )
    assert logged[NONFINITE] == 1.0 and state.step == 1
    after = net.state_dict()
    # Weights and the batch-norm running statistics the NaN went through (not the count).
    kept = [k for k in before if "num_batches" not in k]
    assert all(torch.equal(before[k], after[k]) for k in kept)
    assert all(torch.isfinite(after[k]).all() for k in kept)
