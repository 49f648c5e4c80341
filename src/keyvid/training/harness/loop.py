"""The loop every trainer runs: steps, windowed logging, periodic jobs, checkpoints.

A stage supplies a step function (one batch -> the scalars it wants logged) and its
periodic jobs (evaluation, sample grids); the loop owns the progress bar, the
metrics file, the checkpoint cadence, and stopping cleanly: SIGINT (Ctrl-C) or SIGTERM
(a scheduler's or ``kill``'s polite stop) lets the current step finish, saves a
checkpoint and raises ``TrainingStopped``; a second signal stops at once (still
saving what the state holds).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from keyvid.errors import KeyvidError, TrainingStopped
from keyvid.training.config import LogConfig
from keyvid.training.harness.run import RunLogger, logger
from keyvid.training.harness.state import TrainState

# The scalar a step function returns as 1.0 when it skipped its update because the loss
# or a gradient was NaN/Inf (``step_if_finite``); logged as the skipped fraction.
NONFINITE = "train/skipped_nonfinite"
# Steps in a row with non-finite values after which training stops: one bad batch is
# skipped and forgotten, a run that keeps producing them has diverged.
NONFINITE_PATIENCE = 20


@dataclass
class Periodic:
    """Run ``job(step)`` every ``every`` steps and at the last one (never when ``every`` is 0);
    the scalars it returns, if any, go to the metrics file."""

    every: int
    job: Callable[[int], dict[str, float] | None]

    def due(self, step: int, end: int) -> bool:
        return self.every > 0 and (step % self.every == 0 or step == end)


class StopRequest:
    """Turns SIGINT and SIGTERM into a request the loop honours between steps.

    Handlers are installed only in the main thread (Python allows no other) and the
    previous ones are restored on exit. A second signal raises ``KeyboardInterrupt``
    at once, for a step that hangs.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        logger.warning(
            "%s: stopping after this step (send it again to stop at once)",
            signal.Signals(signum).name,
        )


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
    checkpoint: Callable[..., Path],
    desc: str,
    progress: bool = True,
    postfix: Callable[[dict[str, float]], dict[str, str]] = lambda means: {},
    nonfinite_patience: int = NONFINITE_PATIENCE,
    agree_stop: Callable[[bool], bool] = lambda flag: flag,
    reduce_scalars: Callable[[dict[str, float]], dict[str, float]] = lambda values: values,
) -> Path:
    """Step until ``state.step`` reaches ``steps`` (the schedule's end), or until this call
    has made ``max_steps`` steps; returns the last checkpoint folder. ``cadence`` gives
    the logging and checkpoint intervals.

    In a distributed run every rank runs this loop in step: ``agree_stop`` makes a stop
    signal seen by one rank stop all of them after the same step, ``reduce_scalars``
    averages the logged values over ranks, and ``checkpoint`` is called at the same
    steps everywhere (``checkpoint(alone=True)`` for an emergency save by one rank)."""
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
    nonfinite = 0  # steps in a row whose update was skipped

    def checkpoint_now() -> Path:
        """The checkpoint of the current step: the one just saved, or a new one."""
        if last is not None and int(last.name.split("_")[1]) == state.step:
            return last
        return checkpoint()

    try:
        with StopRequest() as stop:
            for batch in batches:
                if state.step >= end:
                    break
                scalars = step_fn(batch)
                for k, v in scalars.items():
                    window.setdefault(k, []).append(v)
                step = state.step
                nonfinite = nonfinite + 1 if scalars.get(NONFINITE) else 0
                if nonfinite >= nonfinite_patience:
                    # Skipped updates left the weights as they were: a good checkpoint.
                    last = checkpoint()
                    raise KeyvidError(
                        f"the loss or its gradients were NaN/Inf for {nonfinite} steps in a "
                        f"row (up to step {step}); those updates were skipped and the last good "
                        f"weights saved at {last}. Lower optim.lr or check the data, then "
                        "--resume the run"
                    )
                if step % cadence.log_every == 0 or step == end:
                    # Averaged over the window: one batch's value is too noisy to read.
                    means = reduce_scalars({k: sum(v) / len(v) for k, v in window.items()})
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
                if agree_stop(stop.signum is not None):
                    last = checkpoint_now()
                    logger.warning("saved a checkpoint at step %d: %s", state.step, last)
                    raise TrainingStopped(stop.signum or signal.SIGTERM, last)
    except TrainingStopped:
        raise
    except KeyboardInterrupt:
        logger.warning("interrupted: saving a checkpoint at step %d", state.step)
        checkpoint(alone=True)
        raise
    finally:
        bar.close()
        log.close()
    return checkpoint_now()
