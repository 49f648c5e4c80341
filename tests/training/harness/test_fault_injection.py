"""kill -9 at random moments never leaves an unreadable checkpoint, and resuming after each
kill finishes the run at the right step with the same weights as an uninterrupted run."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import torch

from keyvid.checkpoint import latest_checkpoint
from keyvid.models.load import load_classifier
from tests.training.test_classifier import TINY, write_motion_dataset

STEPS = 300  # long enough that every kill lands mid-run


def command(data, run, *extra: str) -> list[str]:
    base = [sys.executable, "-m", "keyvid", "train", "classifier"]
    settings = [*TINY, "log.checkpoint_every=1", "log.keep_checkpoints=2", f"optim.steps={STEPS}"]
    # One thread, as tests/conftest.py gives the suite (a resume reads it from the run's
    # config): torch's default 2 made these runs ~8x slower on a busy 2-core machine.
    settings.append("optim.threads=1")
    return [*base, "--data", str(data), "--run", str(run), *settings, *extra]


def test_kill_9_at_random_moments_then_resume(tmp_path):
    data = write_motion_dataset(tmp_path / "data", train=2, test=1)
    rng = random.Random(0)
    run = tmp_path / "run"
    proc = subprocess.Popen(command(data, run), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    steps_at_kill, step = [], 0
    for _ in range(3):
        # A random moment once this process is training (its checkpoints have moved on).
        deadline = time.time() + 120
        while time.time() < deadline:
            latest = latest_checkpoint(run / "checkpoints")
            if latest is not None and int(latest.name.split("_")[1]) > step:
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        _, ckpt = load_classifier(latest_checkpoint(run / "checkpoints"))  # always readable
        ckpt.training_state()
        step = ckpt.step
        steps_at_kill.append(step)
        assert 1 <= step < STEPS, steps_at_kill  # killed mid-run, not after it
        resume = [sys.executable, "-m", "keyvid", "train", "classifier", "--resume", str(run)]
        proc = subprocess.Popen(resume, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert steps_at_kill == sorted(steps_at_kill)  # each resume went on from the last
    final = latest_checkpoint(run / "checkpoints")
    assert final.name == f"step_{STEPS:08d}"
    # The same run without kills ends with the same weights (exact resume).
    whole = subprocess.run(
        command(data, tmp_path / "whole"), capture_output=True, text=True, timeout=300
    )
    assert whole.returncode == 0, whole.stderr
    a = load_classifier(final)[1].weights
    b = load_classifier(latest_checkpoint(tmp_path / "whole" / "checkpoints"))[1].weights
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
