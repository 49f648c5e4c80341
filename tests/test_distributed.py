"""keyvid.distributed helpers inside a real (one-process, gloo) process group.

The multi-process behaviour (any_rank, mean_over_ranks across ranks) is exercised by the
torchrun runs of tests/training/harness/test_distributed.py.
"""

import torch
import torch.distributed as dist

from keyvid.distributed import collective_device


def test_collective_device_follows_the_backend(tmp_path):
    store = f"file://{tmp_path / 'store'}"
    dist.init_process_group("gloo", init_method=store, rank=0, world_size=1)
    try:
        device = collective_device()
        assert device == torch.device("cpu")  # gloo reduces CPU tensors
        value = torch.tensor([2.0], device=device)
        dist.all_reduce(value)
        assert value.item() == 2.0
    finally:
        dist.destroy_process_group()
