"""Data-parallel training with PyTorch's own engine: torchrun + DistributedDataParallel.

``torchrun --nproc-per-node N -m keyvid train stage1 ...`` starts N copies of the
same trainer. Each reads its rank from the environment torchrun sets, joins the
process group (NCCL on GPUs, gloo on CPUs), takes every N-th sample of the one
sample stream (``InfiniteSampler``) in batches of ``batch_size / N``, and lets DDP
average the gradients, so a step sees the same global batch as one process would.
Rank 0 alone logs, draws samples, evaluates and writes checkpoints, which have the
single-process format.

Batch norm must see the global batch too: ``sync_batch_norm`` swaps every
``BatchNorm`` for ``nn.SyncBatchNorm`` on GPUs and, on CPUs (where SyncBatchNorm
does not run), for :class:`AllReduceBatchNorm`, which sums the statistics over
ranks with a differentiable all-reduce.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel

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


def any_rank(world: World, flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any (e.g. a stop signal seen by one rank)."""
    if not world.distributed:
        return flag
    value = torch.tensor([float(flag)])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def mean_over_ranks(world: World, values: dict[str, float]) -> dict[str, float]:
    """Scalars averaged over ranks (every rank must pass the same keys)."""
    if not world.distributed or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(tensor)
    return dict(zip(keys, (tensor / world.size).tolist(), strict=True))


def gather_objects(world: World, obj: object) -> list[object]:
    """Every rank's ``obj``, in rank order (e.g. RNG states for a checkpoint)."""
    if not world.distributed:
        return [obj]
    out: list[object] = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def parallel(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """The module to train with: DDP around it in a distributed run, itself otherwise.

    DDP copies rank 0's weights and buffers to every rank when it is built, so all
    ranks start (and, by averaging gradients, stay) identical.
    """
    if not world.distributed:
        return module
    if not any(p.requires_grad for p in module.parameters()):
        return module  # nothing to synchronise (e.g. a frozen network)
    device_ids = [device.index] if device.type == "cuda" else None
    # Buffers (batch-norm statistics) are synchronised once, at construction; after that
    # every rank updates them alike from the all-reduced batch statistics.
    return DistributedDataParallel(module, device_ids=device_ids, forward_sync_buffers=False)


def sync_batch_norm(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """Batch norm over the global batch: SyncBatchNorm on GPUs, AllReduceBatchNorm on CPUs.

    Both keep BatchNorm's parameter and buffer names, so checkpoints load into the
    plain networks.
    """
    if not world.distributed:
        return module
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return AllReduceBatchNorm.convert(module)


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the gradient of a sum over ranks is the sum of the gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class AllReduceBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are summed over all ranks (CPU, gloo).

    The same normalisation and running statistics as one process on the whole
    batch: per-channel sums of x and x² and the count are all-reduced (through
    autograd, so gradients flow back to every rank's inputs), then mean and
    biased variance normalise and the unbiased one updates ``running_var``.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input, got {input.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        stats = torch.cat([x.sum(dims), (x * x).sum(dims), count])  # (2C + 1,)
        stats = _AllReduceSum.apply(stats)
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c : 2 * c] / n - mean * mean).clamp_min(0.0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = (
                    self.momentum
                    if self.momentum is not None
                    else 1.0 / float(self.num_batches_tracked)
                )
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1))
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y

    @classmethod
    def convert(cls, module: nn.Module) -> nn.Module:
        """``module`` with every BatchNorm{1,2,3}d replaced. The new modules hold the same
        Parameter and buffer objects (as ``nn.SyncBatchNorm.convert_sync_batchnorm``
        does), so an optimiser built before the swap still updates them."""
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            new = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                device="meta",  # no storage: every tensor is taken from ``module``
            )
            if module.affine:
                new.weight, new.bias = module.weight, module.bias
            if module.track_running_stats:
                new.running_mean = module.running_mean
                new.running_var = module.running_var
                new.num_batches_tracked = module.num_batches_tracked
            new.train(module.training)
            return new
        for name, child in module.named_children():
            module.add_module(name, cls.convert(child))
        return module
