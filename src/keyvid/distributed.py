"""The process group of a ``torchrun`` run, for training, pseudo-labels and evaluation alike.

``torchrun --nproc-per-node N -m keyvid ...`` starts N copies of the same command. Each
reads its rank from the environment torchrun sets (:class:`World`), joins the process
group (NCCL on GPUs, gloo on CPUs), takes its share of the work, and meets the others
at barriers or when results are gathered; rank 0 alone writes. Training's own part,
DistributedDataParallel and batch norm over the global batch, is
``keyvid.training.harness.parallel``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from keyvid.errors import KeyvidError

logger = logging.getLogger("keyvid")


@dataclass(frozen=True)
class World:
    """This process's place in a run: rank ``rank`` of ``size`` (1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> World:
        """What torchrun (or any ``env://`` launcher) put in RANK, WORLD_SIZE, LOCAL_RANK."""
        try:
            return cls(
                rank=int(os.environ.get("RANK", 0)),
                size=int(os.environ.get("WORLD_SIZE", 1)),
                local_rank=int(os.environ.get("LOCAL_RANK", 0)),
            )
        except ValueError as e:
            raise KeyvidError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers ({e})") from None


SINGLE = World()  # one process: the world of every run without torchrun


def join(world: World, device: torch.device) -> torch.device:
    """Join the process group (once) and return this rank's device.

    NCCL needs a GPU per process; on a CPU, or where NCCL is missing, gloo is used
    and the choice is logged.
    """
    if not world.distributed:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    backend = "gloo"
    if device.type == "cuda":
        if dist.is_nccl_available():
            backend = "nccl"
        else:
            logger.warning("NCCL is not available in this torch build: using gloo on the GPUs")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    if world.is_main:
        logger.info("distributed: %d processes, backend %s, device %s", world.size, backend, device)
    return device


def leave(world: World) -> None:
    """Leave the process group (the end of a distributed run), once every rank is done:
    a rank that exits while another still talks to it aborts the other."""
    if world.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def local_batch_size(global_batch: int, world: World) -> int:
    """Each rank's share of ``optim.batch_size``, which must divide evenly."""
    if global_batch % world.size:
        nearest = global_batch // world.size * world.size or world.size
        raise KeyvidError(
            f"optim.batch_size={global_batch} does not divide among {world.size} processes; "
            f"use a multiple of {world.size} (e.g. optim.batch_size={nearest}) "
            "or another --nproc-per-node"
        )
    return global_batch // world.size


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def collective_device() -> torch.device:
    """Where tensors of a collective must live: NCCL reduces GPU tensors only, gloo CPU ones."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def any_rank(world: World, flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any (e.g. a stop signal seen by one rank)."""
    if not world.distributed:
        return flag
    value = torch.tensor([float(flag)], device=collective_device())
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def mean_over_ranks(world: World, values: dict[str, float]) -> dict[str, float]:
    """Scalars averaged over ranks (every rank must pass the same keys)."""
    if not world.distributed or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor(
        [values[k] for k in keys], dtype=torch.float64, device=collective_device()
    )
    dist.all_reduce(tensor)
    return dict(zip(keys, (tensor / world.size).tolist(), strict=True))


def gather_objects(world: World, obj: object) -> list[object]:
    """Every rank's ``obj``, in rank order (e.g. RNG states for a checkpoint)."""
    if not world.distributed:
        return [obj]
    out: list[object] = [None] * world.size
    dist.all_gather_object(out, obj)
    return out
