"""The loop both trainers run: steps, windowed logging, periodic jobs, checkpoints.

A stage supplies a step function (one batch -> the scalars it wants logged) and its
periodic jobs (evaluation, sample grids); the loop owns the progress bar, the
metrics file, the checkpoint cadence, and saving a checkpoint on Ctrl-C.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from keyvid.training.config import LogConfig
from keyvid.training.run import RunLogger, logger
from keyvid.training.state import TrainState


@dataclass
class Periodic:
    """Run ``job(step)`` every ``every`` steps and at the last one (never when ``every`` is 0);
    the scalars it returns, if any, go to the metrics file."""

    every: int
    job: Callable[[int], dict[str, float] | None]

    def due(self, step: int, end: int) -> bool:
        return self.every > 0 and (step % self.every == 0 or step == end)


def run_loop(
    batches: Iterable[dict],
    state: TrainState,
    step_fn: Callable[[dict], dict[str, float]],
    *,
    steps: int,
    max_steps: int | None = None,
    log: RunLogger,
    cadence: LogConfig,
    items_per_step: int,
    rate_name: str,
    jobs: Sequence[Periodic] = (),
    checkpoint: Callable[[], Path],
    desc: str,
    progress: bool = True,
    postfix: Callable[[dict[str, float]], dict[str, str]] = lambda means: {},
) -> Path:
    """Step until ``state.step`` reaches ``steps`` (the schedule's end), or until this call
    has made ``max_steps`` steps; returns the last checkpoint folder. ``cadence`` gives
    the logging and checkpoint intervals."""
    end = steps if max_steps is None else min(steps, state.step + max_steps)
    bar = tqdm(
        total=end,
        initial=state.step,
        desc=desc,
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
    )
    t0 = t_since = time.time()
    window: dict[str, list[float]] = {}  # per-step scalars since the last log line
    last = None
    try:
        for batch in batches:
            if state.step >= end:
                break
            for k, v in step_fn(batch).items():
                window.setdefault(k, []).append(v)
            step = state.step
            if step % cadence.log_every == 0 or step == end:
                # Averaged over the window: one batch's value is too noisy to read.
                means = {k: sum(v) / len(v) for k, v in window.items()}
                window_steps = len(next(iter(window.values())))
                elapsed = max(time.time() - t_since, 1e-9)
                means[rate_name] = window_steps * items_per_step / elapsed
                window, t_since = {}, time.time()
                log.scalars(step, means, elapsed=time.time() - t0)
                bar.set_postfix(postfix(means), refresh=False)
            for periodic in jobs:
                if periodic.due(step, end) and (scalars := periodic.job(step)):
                    log.scalars(step, scalars, elapsed=time.time() - t0)
            if step % cadence.checkpoint_every == 0 or step == end:
                last = checkpoint()
            bar.update(1)
    except KeyboardInterrupt:
        logger.warning("interrupted: saving a checkpoint at step %d", state.step)
        checkpoint()
        raise
    finally:
        bar.close()
        log.close()
    if last is None or int(last.name.split("_")[1]) != state.step:
        last = checkpoint()
    return last
