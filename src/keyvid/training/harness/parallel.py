"""Data-parallel training: DistributedDataParallel around a network and batch norm over
the global batch (SyncBatchNorm on GPUs, :class:`AllReduceBatchNorm` on CPUs, where
SyncBatchNorm does not run). The process group itself is ``keyvid.distributed``."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel

from keyvid.distributed import World


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
