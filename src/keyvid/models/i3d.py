"""Inception-3D (I3D, Carreira & Zisserman, CVPR 2017): the feature network of FVD.

FVD (Unterthiner et al., 2018) compares the logits of the Kinetics-400 RGB I3D of TF-Hub
(``deepmind/i3d-kinetics-400/1``). The PyTorch port used by VideoGPT, TATS and
content-debiased FVD is piergiaj/pytorch-i3d's ``pytorch_i3d.py``; their weights file
``i3d_pretrained_400.pt`` is the TF-Hub model converted by TATS's
``tats/fvd/convert_tf_pretrained.py``. This module is that architecture, written anew with
the same module names, so that file loads as is. Checked against (in songweige/TATS)
``tats/fvd/pytorch_i3d.py``, ``tats/fvd/fvd.py`` and ``convert_tf_pretrained.py``; the same
network is in wilson1yan/VideoGPT ``videogpt/fvd/pytorch_i3d.py`` and
songweige/content-debiased-fvd ``cdfvd/third_party/i3d/pytorch_i3d.py``:

- keys ``<Unit>.conv3d.weight`` and ``<Unit>.bn.{weight,bias,running_mean,running_var}``
  for ``Conv3d_1a_7x7``, ``Conv3d_2b_1x1``, ``Conv3d_2c_3x3`` and the branches ``b0``,
  ``b1a``, ``b1b``, ``b2a``, ``b2b``, ``b3b`` of ``Mixed_3b`` ... ``Mixed_5c``;
  ``logits.conv3d.weight`` (400, 1024, 1, 1, 1) and ``logits.conv3d.bias``. The converted
  file holds no ``num_batches_tracked`` (TATS loads it with ``load_state_dict``, which
  fills those in), and its ``bn.weight`` are ones: TF's batch norm has no scale;
- every convolution and max-pool pads like TF's "SAME", computed from the input size at
  run time (zero padding, also before max-pools: their inputs are ReLU outputs, ≥ 0);
- batch norm with eps 1e-5 as in TATS/VideoGPT (piergiaj's original has 1e-3, the
  default of Sonnet's BatchNorm, which also has no scale by default); a small known
  difference from the TF model, kept so that our numbers are TATS's;
- ``AvgPool3d((2, 7, 7), stride 1)`` after ``Mixed_5c``, the 1×1×1 ``logits`` convolution,
  then the mean over the remaining time steps (TF-Hub's ``inception_i3d/Mean``).

Inputs are RGB videos ``(B, 3, T, H, W)`` in [-1, 1]. The temporal strides (2 in
``Conv3d_1a_7x7``, ``MaxPool3d_4a_3x3``, ``MaxPool3d_5a_2x2``) leave ⌈T/8⌉ steps for the
2-step average pool, hence T ≥ 9; the spatial strides leave ⌈H/32⌉ × ⌈W/32⌉, which the
7×7 pool must reduce to 1×1, hence 193 ≤ H, W ≤ 224 (224 is what the weights expect).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

MIN_FRAMES = 9  # ⌈T/8⌉ ≥ 2 time steps for the (2, 7, 7) average pool
MIN_SIDE, MAX_SIDE = 193, 224  # ⌈side/32⌉ == 7 for the 7×7 average pool to leave 1×1
KINETICS_SIDE = 224

# The trunk's modules in order, named as pytorch_i3d.py's VALID_ENDPOINTS (up to Mixed_5c).
ENDPOINTS = (
    "Conv3d_1a_7x7",
    "MaxPool3d_2a_3x3",
    "Conv3d_2b_1x1",
    "Conv3d_2c_3x3",
    "MaxPool3d_3a_3x3",
    "Mixed_3b",
    "Mixed_3c",
    "MaxPool3d_4a_3x3",
    "Mixed_4b",
    "Mixed_4c",
    "Mixed_4d",
    "Mixed_4e",
    "Mixed_4f",
    "MaxPool3d_5a_2x2",
    "Mixed_5b",
    "Mixed_5c",
)

# (in_channels, [b0, b1a, b1b, b2a, b2b, b3b] out_channels) of each Inception block,
# as in pytorch_i3d.py (the TF model's widths).
_MIXED: dict[str, tuple[int, tuple[int, int, int, int, int, int]]] = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (128 + 192 + 96 + 64, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (192 + 208 + 48 + 64, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (160 + 224 + 64 + 64, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (128 + 256 + 64 + 64, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (112 + 288 + 64 + 64, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (256 + 320 + 128 + 128, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (256 + 320 + 128 + 128, (384, 192, 384, 48, 128, 128)),
}
FEATURE_CHANNELS = 384 + 384 + 128 + 128  # Mixed_5c's output, the logits layer's input


@dataclass
class I3DConfig:
    """The Kinetics-400 RGB model: 400 classes, 3 input channels."""

    num_classes: int = 400
    in_channels: int = 3


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding of one dimension: (before, after), the odd pixel after.

    The output has ⌈size/stride⌉ positions; pytorch_i3d.py's ``compute_pad`` gives the
    same total, max(kernel − stride, 0) or max(kernel − size mod stride, 0).
    """
    remainder = size % stride
    total = max(kernel - (remainder or stride), 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
    """Zero-pad a (B, C, T, H, W) tensor for a TF-"SAME" conv/pool of ``kernel``/``stride``."""
    t, h, w = x.shape[2:]
    (t0, t1), (h0, h1), (w0, w1) = (
        same_padding(n, k, s) for n, k, s in zip((t, h, w), kernel, stride, strict=True)
    )
    return F.pad(x, (w0, w1, h0, h1, t0, t1))  # F.pad lists the last dimension first


class MaxPool3dSamePadding(nn.MaxPool3d):
    """``nn.MaxPool3d`` with TF-"SAME" zero padding computed per input (no parameters)."""

    def __init__(self, kernel_size: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__(kernel_size=kernel_size, stride=stride, padding=0)
        self._k3, self._s3 = kernel_size, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_pad_same(x, self._k3, self._s3))


class Unit3D(nn.Module):
    """Conv3d (no bias unless ``use_bias``) + BatchNorm3d + ReLU, TF-"SAME" padded.

    Submodules ``conv3d`` and ``bn`` as in pytorch_i3d.py's ``Unit3D``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        *,
        batch_norm: bool = True,
        activation: bool = True,
        use_bias: bool = False,
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.activation = kernel, stride, activation
        # padding=0: the "SAME" padding depends on the input size, added in forward.
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride, padding=0, bias=use_bias)
        # eps and momentum of TATS/VideoGPT's copy (momentum only matters in training).
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-5, momentum=0.001) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.activation else x


class InceptionModule(nn.Module):
    """Four branches concatenated on channels: 1×1; 1×1→3×3; 1×1→3×3; 3×3 max-pool→1×1.

    (The TF graph names the second 3×3 "Conv3d_0a_3x3" in Mixed_5b's branch 2 by a typo;
    the conversion script maps it to ``b2b`` all the same.)
    """

    def __init__(self, in_channels: int, out: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        self.b0 = Unit3D(in_channels, out[0])
        self.b1a = Unit3D(in_channels, out[1])
        self.b1b = Unit3D(out[1], out[2], (3, 3, 3))
        self.b2a = Unit3D(in_channels, out[3])
        self.b2b = Unit3D(out[3], out[4], (3, 3, 3))
        self.b3a = MaxPool3dSamePadding((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, out[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (
            self.b0(x),
            self.b1b(self.b1a(x)),
            self.b2b(self.b2a(x)),
            self.b3b(self.b3a(x)),
        )
        return torch.cat(branches, dim=1)  # (B, out[0] + out[2] + out[4] + out[5], T, H, W)


class InceptionI3d(nn.Module):
    """I3D RGB network: ``(B, 3, T, H, W)`` in [-1, 1] -> ``(B, num_classes)`` logits.

    The logits are averaged over time (pytorch_i3d.py's ``forward``, TF-Hub's ``Mean``);
    these 400 numbers are FVD's features. T ≥ 9 and 193 ≤ H, W ≤ 224 (see the module
    docstring); anything else raises ``ValueError``. The weights are PyTorch's default
    initialisation until a checkpoint is loaded (``keyvid.metrics.fvd.load_i3d``).
    """

    def __init__(self, config: I3DConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or I3DConfig()
        # Attribute names are the state-dict prefixes of i3d_pretrained_400.pt.
        self.Conv3d_1a_7x7 = Unit3D(config.in_channels, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSamePadding((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSamePadding((1, 3, 3), (1, 2, 2))
        self.Mixed_3b = InceptionModule(*_MIXED["Mixed_3b"])
        self.Mixed_3c = InceptionModule(*_MIXED["Mixed_3c"])
        self.MaxPool3d_4a_3x3 = MaxPool3dSamePadding((3, 3, 3), (2, 2, 2))
        self.Mixed_4b = InceptionModule(*_MIXED["Mixed_4b"])
        self.Mixed_4c = InceptionModule(*_MIXED["Mixed_4c"])
        self.Mixed_4d = InceptionModule(*_MIXED["Mixed_4d"])
        self.Mixed_4e = InceptionModule(*_MIXED["Mixed_4e"])
        self.Mixed_4f = InceptionModule(*_MIXED["Mixed_4f"])
        self.MaxPool3d_5a_2x2 = MaxPool3dSamePadding((2, 2, 2), (2, 2, 2))
        self.Mixed_5b = InceptionModule(*_MIXED["Mixed_5b"])
        self.Mixed_5c = InceptionModule(*_MIXED["Mixed_5c"])
        self.avg_pool = nn.AvgPool3d(kernel_size=(2, 7, 7), stride=(1, 1, 1))
        # pytorch_i3d.py passes dropout_keep_prob=0.5 as the drop probability; only active
        # in training mode, which FVD never uses.
        self.dropout = nn.Dropout(0.5)
        self.logits = Unit3D(
            FEATURE_CHANNELS,
            config.num_classes,
            batch_norm=False,
            activation=False,
            use_bias=True,
        )

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is ``(B, in_channels, T ≥ 9, H, W)``, H, W in
        [193, 224]."""
        c = self.config.in_channels
        if x.ndim != 5 or x.shape[1] != c:
            raise ValueError(f"I3D expects videos of shape (B, {c}, T, H, W), got {tuple(x.shape)}")
        t, h, w = x.shape[2:]
        if t < MIN_FRAMES:
            raise ValueError(f"I3D needs at least {MIN_FRAMES} frames, got {t}")
        if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
            raise ValueError(
                f"I3D needs frames of {MIN_SIDE} to {MAX_SIDE} pixels a side "
                f"({KINETICS_SIDE} for the Kinetics weights), got {h}×{w}"
            )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Mixed_5c's activations after the average pool: ``(B, 1024, ⌈T/8⌉ − 1, 1, 1)``."""
        self.check_input(x)
        for name in ENDPOINTS:
            x = getattr(self, name)(x)  # (B, 1024, ⌈T/8⌉, 7, 7) after Mixed_5c
        return self.avg_pool(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.logits(self.dropout(self.features(x)))  # (B, classes, T', 1, 1)
        x = x.flatten(2)  # (B, classes, T'): the 1×1 spatial dims squeezed
        return x.mean(dim=2)  # (B, classes), averaged over time
