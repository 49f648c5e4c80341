"""The VGG-19 convolutional trunk, for the perceptual reconstruction loss of stage 1.

Kim et al. (NeurIPS 2019) train the detector and translator with
λ1·Σ_l ||Φ_l(v̂) − Φ_l(v')||, Φ_l being VGG-19 feature maps (Simonyan & Zisserman, 2015).
The authors' code compares relu1_2, relu2_2, relu3_4, relu4_4 and relu5_4, which is our
default. The network is written here (torchvision is not a dependency) with parameter names
identical to torchvision's ``vgg19().features``, so its ImageNet checkpoint
``vgg19-dcbb9e9d.pth`` loads as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from keyvid.errors import KeyvidError, first_line
from keyvid.io.weights import (
    check_state_dict,
    read_state_dict_file,
    require_file,
)

# torchvision's "E" configuration: channels of each 3×3 conv, "M" for a 2×2 max-pool.
_CFG: tuple[int | str, ...] = (
    64, 64, "M",
    128, 128, "M",
    256, 256, 256, 256, "M",
    512, 512, 512, 512, "M",
    512, 512, 512, 512, "M",
)  # fmt: skip

# ImageNet statistics the torchvision weights were trained with (inputs in [0, 1], RGB).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The layers the authors' perceptual loss compares (their models/networks/vgg.py returns
# conv1_2, conv2_2, conv3_4, conv4_4, conv5_4, each taken after its ReLU).
DEFAULT_LAYERS: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4")

WEIGHTS_HINT = (
    "get torchvision's ImageNet VGG-19 weights (vgg19-dcbb9e9d.pth from "
    "https://download.pytorch.org/models/) on a machine with internet, copy the file here and "
    "point KEYVID_VGG19_WEIGHTS or loss.vgg_weights at it; or train with loss.kind 'pixel' or "
    "'vgg_random', which need no download"
)


def _layer_names() -> dict[str, int]:
    """Map ``conv{b}_{i}``, ``relu{b}_{i}``, ``pool{b}`` to indices in ``features``."""
    names: dict[str, int] = {}
    block, conv, index = 1, 1, 0
    for item in _CFG:
        if item == "M":
            names[f"pool{block}"] = index
            block, conv, index = block + 1, 1, index + 1
        else:
            names[f"conv{block}_{conv}"] = index
            names[f"relu{block}_{conv}"] = index + 1
            conv, index = conv + 1, index + 2
    return names


LAYER_INDEX: dict[str, int] = _layer_names()


def _expected_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    in_ch, index = 3, 0
    for item in _CFG:
        if item == "M":
            index += 1
            continue
        out_ch = int(item)
        shapes[f"features.{index}.weight"] = (out_ch, in_ch, 3, 3)
        shapes[f"features.{index}.bias"] = (out_ch,)
        in_ch, index = out_ch, index + 2
    return shapes


EXPECTED_SHAPES: dict[str, tuple[int, ...]] = _expected_shapes()


def conv_flops(size: int, batch: int = 1, layers: Sequence[str] = DEFAULT_LAYERS) -> float:
    """Forward multiply-add FLOPs (2 per MAC) of the VGG-19 convolutions up to ``layers``."""
    last = max(LAYER_INDEX[name] for name in layers)
    flops, in_ch, index, side = 0.0, 3, 0, size
    for item in _CFG:
        if index > last:
            break
        if item == "M":
            side //= 2
            index += 1
            continue
        flops += 2 * 9 * in_ch * int(item) * side * side
        in_ch, index = int(item), index + 2
    return flops * batch


class VGG19Features(nn.Module):
    """VGG-19 convolutional trunk returning post-ReLU activations; frozen, always in eval mode.

    Inputs are RGB images in [0, 1], shape ``(B, 3, H, W)``, any H, W ≥ 16 for relu5_4; they
    are normalised inside with the ImageNet mean/std (torchvision's convention). Without a
    checkpoint the weights are a fixed Kaiming-normal draw (torchvision's VGG init) from a
    ``torch.Generator`` seeded with ``seed``: deterministic, untrained.
    """

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for item in _CFG:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers.append(nn.Conv2d(in_ch, int(item), kernel_size=3, padding=1))
                # Not in place: activations are handed out to the loss.
                layers.append(nn.ReLU(inplace=False))
                in_ch = int(item)
        self.features = nn.Sequential(*layers)
        # Buffers, not parameters: not part of the torchvision key set, and move with .to().
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.reset_random(seed)
        self.requires_grad_(False)
        self.eval()

    @torch.no_grad()
    def reset_random(self, seed: int = 0) -> None:
        """Re-draw the weights: Kaiming normal (fan_out, ReLU) and zero biases, as torchvision."""
        gen = torch.Generator().manual_seed(seed)
        for module in self.features:
            if isinstance(module, nn.Conv2d):
                # Drawn on the CPU so the result does not depend on the device.
                w = torch.empty(module.weight.shape)
                nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", generator=gen)
                module.weight.copy_(w)
                module.bias.zero_()

    def train(self, mode: bool = True) -> VGG19Features:
        """Stay in eval mode: the trunk is a fixed feature extractor."""
        return super().train(False)

    def forward(
        self, x: torch.Tensor, layers: Sequence[str] = DEFAULT_LAYERS
    ) -> list[torch.Tensor]:
        """Activations of ``layers`` (names like ``relu3_4``), in the order given.

        Computation stops after the deepest requested layer.
        """
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(x.shape)}")
        try:
            wanted = [LAYER_INDEX[name] for name in layers]
        except KeyError as exc:
            raise ValueError(
                f"unknown VGG-19 layer {exc.args[0]!r}; names are like 'relu1_2', 'conv3_4', "
                "'pool2'"
            ) from None
        if not wanted:
            return []
        last = max(wanted)
        out: dict[int, torch.Tensor] = {}
        h = (x - self.mean) / self.std
        for index, module in enumerate(self.features):
            h = module(h)
            if index in wanted:
                out[index] = h
            if index == last:
                break
        return [out[i] for i in wanted]


def _read_state_dict(path: Path) -> Mapping[str, object]:
    if path.suffix != ".safetensors":
        return read_state_dict_file(path, what="VGG-19 weights", hint=WEIGHTS_HINT)
    require_file(path, what="VGG-19 weights", hint=WEIGHTS_HINT)
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise KeyvidError(
            f"VGG-19 weights {path} is not a readable .safetensors file ({first_line(exc)}); "
            f"{WEIGHTS_HINT}"
        ) from exc


def load_vgg19_weights(model: VGG19Features, path: str | Path) -> VGG19Features:
    """Load a torchvision VGG-19 checkpoint (``.pth``) or ``.safetensors`` file into ``model``.

    Keeps ``features.*`` and ignores ``classifier.*``; a state dict of ``vgg19().features``
    alone (keys ``0.weight``, ...) is accepted too, and a ``.pth`` may wrap the state dict as
    ``{"state_dict": ...}`` or prefix its keys with ``module.``. Raises :class:`KeyvidError`
    naming the file and the first problem on a missing file, an unreadable file, a missing
    or unexpected key, or a wrong shape. Returns ``model``, frozen and in eval mode.
    """
    path = Path(path).expanduser()
    raw = _read_state_dict(path)
    keys = [k for k in raw if isinstance(k, str)]
    if not any(k.startswith("features.") for k in keys) and any(k[:1].isdigit() for k in keys):
        raw = {f"features.{k}": v for k, v in raw.items()}  # a saved ``vgg19().features``
    state = {k: v for k, v in raw.items() if isinstance(k, str) and k.startswith("features.")}
    tensors = check_state_dict(
        state,
        EXPECTED_SHAPES,
        path=path,
        what="VGG-19 weights",
        hint=WEIGHTS_HINT,
        model="torchvision's vgg19 (not vgg16 or vgg19_bn)",
    )
    with torch.no_grad():
        params = dict(model.named_parameters())
        for key, value in tensors.items():
            params[key].copy_(value.to(params[key].dtype))
    model.requires_grad_(False)
    model.eval()
    return model
