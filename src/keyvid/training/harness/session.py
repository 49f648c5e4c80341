"""What every trainer does around its step, once: the run folder, the processes of a
distributed run, the device and precision, the sample stream, checkpoints, logging.

A trainer (stage 1, stage 2, the classifier) builds its networks and its step
function; :class:`TrainingSession` does the rest the same way for all three:

    session = TrainingSession.start(run_dir, KIND, config_dict, config.optim, resume=resume)
    ...build state on session.device, session.restore(state)...
    return session.run(state, dataset, step_fn, ...)

Single-process runs and ``torchrun`` runs go through the same code; in the latter,
rank 0 alone writes the run folder, logs, evaluates and checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from keyvid.checkpoint import Checkpoint
from keyvid.distributed import (
    World,
    any_rank,
    barrier,
    gather_objects,
    join,
    leave,
    local_batch_size,
    mean_over_ranks,
)
from keyvid.training.config import LogConfig, OptimConfig
from keyvid.training.harness.loop import Periodic, run_loop
from keyvid.training.harness.parallel import parallel, sync_batch_norm
from keyvid.training.harness.precision import Precision, compiled, to_channels_last
from keyvid.training.harness.run import (
    NullRunLogger,
    RunLogger,
    logger,
    pick_device,
    prepare_run_dir,
)
from keyvid.training.harness.sampler import InfiniteSampler, single_thread_worker
from keyvid.training.harness.state import (
    TrainState,
    restore_state,
    resumable_checkpoint,
    save_state,
)


@dataclass
class TrainingSession:
    run_dir: Path
    kind: str
    config: dict  # the resolved config, saved in the run folder and every checkpoint
    optim: OptimConfig
    world: World
    device: torch.device
    precision: Precision
    resume_from: Checkpoint | None = None

    @classmethod
    def start(
        cls,
        run_dir: str | Path,
        kind: str,
        config: dict,
        optim: OptimConfig,
        *,
        resume: bool,
        model_config: type | None = None,
    ) -> TrainingSession:
        """Check the run folder, join the other processes, seed and pick the device.

        ``model_config`` (the model section's dataclass) lets a checkpoint written before an
        option existed resume (``resumable_checkpoint``)."""
        run_dir = Path(run_dir)
        world = World.from_environment()
        local_batch_size(optim.batch_size, world)  # refuse an uneven split before any work
        resume_from = resumable_checkpoint(run_dir, kind, config, model_config) if resume else None
        device = join(world, pick_device(optim.device))
        if world.is_main:
            prepare_run_dir(run_dir, config, resume=resume)
        barrier(world)
        # Rank 0 draws what a single process would; the others draw their own noise
        # (their weights come from rank 0 when DDP starts).
        torch.manual_seed(optim.seed + world.rank)
        if optim.threads > 0:
            torch.set_num_threads(optim.threads)
        precision = Precision.resolve(optim.precision, device)
        return cls(run_dir, kind, config, optim, world, device, precision, resume_from)

    @property
    def batch_size(self) -> int:
        """This process's share of the global ``optim.batch_size``."""
        return local_batch_size(self.optim.batch_size, self.world)

    def restore(self, state: TrainState) -> None:
        """Continue from the run's latest checkpoint, if resuming."""
        ckpt = self.resume_from
        if ckpt is None:
            return
        restore_state(state, ckpt)
        self.precision.load_state_dict(ckpt.training_state().get("precision", {}))
        rng = ckpt.training_state().get("torch_rng_ranks")
        if self.world.distributed:
            if rng is not None and len(rng) == self.world.size:
                torch.set_rng_state(rng[self.world.rank])
            else:  # saved by another number of processes: fresh, distinct noise per rank
                torch.manual_seed(self.optim.seed + self.world.rank + 1_000_003 * state.step)
        logger.info("resumed from %s at step %d", ckpt.path, state.step)

    def train_module(self, module: nn.Module, *, batch_norm: bool = True) -> nn.Module:
        """``train_module`` of this session's world, device and switches."""
        return train_module(module, self.world, self.device, self.optim, batch_norm=batch_norm)

    def loader(self, dataset: Dataset, *, start_step: int, num_workers: int = 0) -> DataLoader:
        """This rank's endless batches, from the sample the run has reached."""
        opt = self.optim
        sampler = InfiniteSampler(
            len(dataset),
            seed=opt.seed,
            start=start_step * opt.batch_size,
            rank=self.world.rank,
            world_size=self.world.size,
        )
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=num_workers,
            worker_init_fn=single_thread_worker if num_workers > 0 else None,
            persistent_workers=num_workers > 0,
            pin_memory=self.device.type == "cuda",
            # Its own generator: DataLoader seeds workers with a draw from the one it is
            # given, and a draw from torch's global one would shift the restored RNG state.
            generator=torch.Generator(),
        )

    def logger(self, *, tensorboard: bool, step: int) -> RunLogger | NullRunLogger:
        if not self.world.is_main:
            return NullRunLogger()
        return RunLogger(self.run_dir, tensorboard=tensorboard, step=step)

    def checkpointer(
        self, state: TrainState, keep: int, before: Callable[[], None] | None = None
    ) -> Callable[..., Path]:
        """``save()`` on every rank at the same step: rank 0 writes, with every rank's RNG
        state; ``save(alone=True)`` is rank 0's emergency save (no collective). ``before``
        runs on rank 0 just before it writes (e.g. to measure something saved with it)."""

        def save(*, alone: bool = False) -> Path:
            extra = {"precision": self.precision.state_dict()}
            if self.world.distributed and not alone:
                extra["torch_rng_ranks"] = gather_objects(self.world, torch.get_rng_state())
            path = self.run_dir / "checkpoints" / f"step_{state.step:08d}"
            if self.world.is_main:
                if before is not None:
                    before()
                path = save_state(
                    self.run_dir, state, kind=self.kind, config=self.config, keep=keep, extra=extra
                )
            return path

        return save

    def run(
        self,
        state: TrainState,
        loader: DataLoader,
        step_fn: Callable[[dict], dict[str, float]],
        *,
        log_config: LogConfig,
        log: RunLogger | NullRunLogger,
        jobs: Sequence[Periodic] = (),
        rate_name: str,
        desc: str,
        postfix: Callable[[dict[str, float]], dict[str, str]] = lambda means: {},
        max_steps: int | None = None,
        progress: bool = True,
        before_checkpoint: Callable[[], None] | None = None,
    ) -> Path:
        """Step to ``optim.steps`` (or ``max_steps`` more); the last checkpoint's folder."""
        world = self.world
        try:
            return run_loop(
                loader,
                state,
                step_fn,
                steps=self.optim.steps,
                max_steps=max_steps,
                log=log,
                cadence=log_config,
                items_per_step=self.optim.batch_size,
                rate_name=rate_name,
                jobs=jobs if world.is_main else (),
                checkpoint=self.checkpointer(state, log_config.keep_checkpoints, before_checkpoint),
                desc=desc,
                progress=progress and world.is_main,
                postfix=postfix,
                agree_stop=lambda flag: any_rank(world, flag),
                reduce_scalars=lambda values: mean_over_ranks(world, values),
            )
        finally:
            leave(world)


def train_module(
    module: nn.Module,
    world: World,
    device: torch.device,
    optim: OptimConfig,
    *,
    batch_norm: bool = True,
) -> nn.Module:
    """The module as a step should call it: global-batch norm, channels-last, DDP and
    compiled as ``optim`` says. Its weights stay those of ``module``."""
    if batch_norm:
        module = sync_batch_norm(module, world, device)
    if optim.channels_last:
        to_channels_last(module)
    wrapped = parallel(module, world, device)
    return compiled(wrapped) if optim.compile else wrapped
