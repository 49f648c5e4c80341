"""Small building blocks shared by the networks."""

from __future__ import annotations

from torch import nn


def conv_bn_relu(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """Conv + batch norm + ReLU, the block used throughout the authors' networks."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def num_halvings(size: int, target: int) -> int:
    """How many stride-2 stages take ``size`` down to ``target`` (both powers of 2 apart)."""
    n, s = 0, size
    while s > target:
        if s % 2:
            break
        s //= 2
        n += 1
    if s != target:
        raise ValueError(f"{size} cannot be halved down to {target}")
    return n
