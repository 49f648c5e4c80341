"""The image reconstruction loss of stage 1: λ1·E_l ||Φ_l(v̂) − Φ_l(v')||.

Kim et al. (NeurIPS 2019, Sec. 2, Eq. 3) compare the translated frame v̂ with the real future
frame v' through VGG-19 features Φ_l, averaged over layers (λ1 = 1 is applied by the trainer,
not here). Three kinds are offered, because the ImageNet
weights cannot be downloaded everywhere:

``"vgg"``
    The paper's loss with torchvision's ImageNet VGG-19 weights: the mean over layers
    relu1_2, relu2_2, relu3_4, relu4_4, relu5_4 of the mean absolute feature difference
    (the authors' ``_compute_perceptual_loss``: equal weights, mean L1 per layer).
    The authors fed 0–255 BGR images, mean-subtracted, to the Caffe VGG-19; we feed [0, 1]
    RGB images normalised with the ImageNet mean/std to torchvision's weights. The inputs
    differ by a factor of about 255·0.226 ≈ 58, so our per-layer values are smaller than the
    authors' by roughly that factor (exactly so only where biases are negligible, and the two
    weight sets are different training runs). The ranking of images is what matters; if the
    balance against the GAN loss must match the paper, scale λ1 rather than this module.
``"vgg_random"``
    The same network and layers with fixed random weights (Kaiming normal, seed 0, untrained):
    a perceptual-like multi-scale feature loss without a download. Same cost as ``"vgg"``.
``"pixel"``
    Multi-scale L1 + (1 − SSIM): at 3 scales (full, 1/2, 1/4 by 2×2 average pooling), the
    mean of L1 and 1 − SSIM (Gaussian window 11, σ = 1.5, per channel, Wang et al. 2004),
    averaged over scales; values in [0, 3], 0 for identical images.

Cost, forward + backward (gradient to the prediction only) for a batch of 16 pairs, measured
on 2 CPU cores (torch 2.13 CPU, float32); forward FLOPs count both images of each pair, and
the backward pass adds about half of that again (input gradients of the prediction only):

==========  =====================  =====================
kind        16×3×64×64             16×3×128×128
==========  =====================  =====================
vgg         102 GFLOP, ≈ 0.76 s    408 GFLOP, 3.3–4 s
vgg_random  102 GFLOP, ≈ 0.76 s    408 GFLOP, 3.3–4 s
pixel       ≈ 0.07 GFLOP, ≈ 0.015 s ≈ 0.3 GFLOP, ≈ 0.045 s
==========  =====================  =====================

(:func:`keyvid.models.vgg.conv_flops` gives the VGG figures; the pixel figures are estimated
from the SSIM convolutions; times are best-of-5 on a machine shared with other jobs.)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from keyvid.errors import KeyvidError
from keyvid.models.vgg import DEFAULT_LAYERS, VGG19Features, load_vgg19_weights

logger = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("vgg", "vgg_random", "pixel")
ENV_VAR = "KEYVID_VGG19_WEIGHTS"

# Used when kind "vgg" is asked for but no weights are given. Keypoints do emerge from pixel
# reconstruction losses (Transporter, Kulkarni et al. 2019; struct-VRNN, Minderer et al. 2019),
# while the papers that use VGG features (IMM, Jakab et al. 2018; this paper) use ImageNet
# weights, not random ones: random VGG features have no record for keypoint emergence and
# cost as much as the real VGG, 50–80× the pixel loss on a CPU. The keypoint-emergence
# experiment revisits this choice.
DEFAULT_FALLBACK = "pixel"


def _gaussian_1d(size: int, sigma: float, device: torch.device, dtype: torch.dtype):
    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    window_size: int = 11,
    sigma: float = 1.5,
    data_range: float = 1.0,
) -> torch.Tensor:
    """Mean SSIM per image, shape ``(B,)``, of ``(B, C, H, W)`` images (Wang et al., 2004).

    Gaussian window (11, σ = 1.5) applied per channel without padding, K1 = 0.01, K2 = 0.03.
    The window shrinks to the largest odd size that fits images smaller than it.
    """
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(
            f"ssim needs two (B, C, H, W) images of one shape, got {x.shape}, {y.shape}"
        )
    c, h, w = x.shape[1:]
    size = min(window_size, h, w)
    size -= 1 - size % 2  # odd, so the window has a centre
    g = _gaussian_1d(size, sigma, x.device, x.dtype)
    # One grouped, separable convolution computes all five local moments at once.
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    n = stack.shape[1]
    stack = F.conv2d(stack, g.view(1, 1, size, 1).expand(n, 1, size, 1), groups=n)
    stack = F.conv2d(stack, g.view(1, 1, 1, size).expand(n, 1, 1, size), groups=n)
    mu_x, mu_y, xx, yy, xy = stack.split(c, dim=1)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return (num / den).flatten(1).mean(1)


def multiscale_l1_ssim(pred: torch.Tensor, target: torch.Tensor, scales: int = 3) -> torch.Tensor:
    """Mean over ``scales`` (halving by 2×2 average pooling) of L1 + (1 − SSIM); a scalar."""
    total = pred.new_zeros(())
    for s in range(scales):
        if s > 0:
            if min(pred.shape[-2:]) < 2:
                scales = s  # image too small to halve again: average over the scales done
                break
            pred = F.avg_pool2d(pred, 2)
            target = F.avg_pool2d(target, 2)
        l1 = (pred - target).abs().mean()
        total = total + l1 + (1 - ssim(pred, target).mean())
    return total / scales


class ReconstructionLoss(nn.Module):
    """L_rec between predicted and real frames, both ``(B, 3, H, W)`` in [0, 1]; a scalar.

    ``kind`` is ``"vgg"`` (paper), ``"vgg_random"`` or ``"pixel"`` (see the module docstring).
    For ``"vgg"`` the weights file is, in order: ``vgg_weights``, the environment variable
    ``KEYVID_VGG19_WEIGHTS``; with neither, the loss falls back to :data:`DEFAULT_FALLBACK`
    and logs a warning. A given but unusable file is an error, never a silent fallback.
    ``kind_in_use`` says which loss is computed, for the training log.
    ``layer_weights`` (optional, one per layer) weight the per-layer means; the default is the
    authors' plain mean.
    """

    def __init__(
        self,
        kind: str = "vgg",
        vgg_weights: str | os.PathLike[str] | None = None,
        *,
        layers: Sequence[str] = DEFAULT_LAYERS,
        layer_weights: Sequence[float] | None = None,
        scales: int = 3,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise KeyvidError(
                f"unknown reconstruction loss kind {kind!r}; choose one of {', '.join(KINDS)}"
            )
        if layer_weights is not None and len(layer_weights) != len(layers):
            raise KeyvidError(
                f"loss.layer_weights has {len(layer_weights)} values for {len(layers)} VGG layers"
            )
        self.kind = kind
        self.layers = tuple(layers)
        self.layer_weights = None if layer_weights is None else tuple(map(float, layer_weights))
        self.scales = scales
        self.weights_path: Path | None = None
        self.vgg: VGG19Features | None = None

        kind_in_use = kind
        if kind == "vgg":
            path, source = _resolve_weights(vgg_weights)
            if path is None:
                kind_in_use = DEFAULT_FALLBACK
                logger.warning(
                    "reconstruction loss: kind 'vgg' (the paper's VGG-19 perceptual loss) needs "
                    "ImageNet VGG-19 weights, but neither loss.vgg_weights nor %s is set; "
                    "training with the %r loss instead (%s). To use the VGG-19 loss, set %s or "
                    "loss.vgg_weights to torchvision's vgg19-dcbb9e9d.pth (or a .safetensors "
                    "copy of it).",
                    ENV_VAR,
                    DEFAULT_FALLBACK,
                    _DESCRIPTIONS[DEFAULT_FALLBACK],
                    ENV_VAR,
                )
            else:
                self.vgg = VGG19Features(seed=seed)
                try:
                    load_vgg19_weights(self.vgg, path)
                except KeyvidError as exc:
                    raise KeyvidError(f"{exc} (the path came from {source})") from exc
                self.weights_path = path
                logger.info("reconstruction loss: VGG-19 perceptual, weights %s", path)
        if kind_in_use == "vgg_random":
            self.vgg = VGG19Features(seed=seed)
        self.kind_in_use: str = kind_in_use

    @classmethod
    def from_config(
        cls, kind: str = "vgg", vgg_weights: str | os.PathLike[str] | None = None
    ) -> ReconstructionLoss:
        """Build from the ``loss`` section of a config: an empty path means "not set"."""
        if isinstance(vgg_weights, str) and not vgg_weights.strip():
            vgg_weights = None
        return cls(kind=kind, vgg_weights=vgg_weights)

    @property
    def description(self) -> str:
        """One line for the training log: the loss in use and where its weights came from."""
        text = f"{self.kind_in_use}: {_DESCRIPTIONS[self.kind_in_use]}"
        if self.weights_path is not None:
            text += f", weights {self.weights_path}"
        if self.kind_in_use != self.kind:
            text += f" (fallback: no VGG-19 weights for kind {self.kind!r})"
        return text

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, kind_in_use={self.kind_in_use!r}"

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(
                f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape"
            )
        target = target.detach()  # the real frame is data; no gradient goes into it
        if self.vgg is None:
            # In fp32 even under bf16 autocast: SSIM's variances (E[x²] − E[x]²) lose all
            # their digits in bf16, go negative and make the loss NaN from the first step.
            with torch.autocast(pred.device.type, enabled=False):
                return multiscale_l1_ssim(pred.float(), target.float(), self.scales)
        # Target features need no graph: computed without it, they cost no activation memory.
        with torch.no_grad():
            feats_target = self.vgg(target, self.layers)
        feats_pred = self.vgg(pred, self.layers)
        weights = self.layer_weights or (1.0,) * len(self.layers)
        total = pred.new_zeros(())
        for w, fp, ft in zip(weights, feats_pred, feats_target, strict=True):
            total = total + w * (fp - ft).abs().mean()
        return total / len(self.layers)


_DESCRIPTIONS = {
    "vgg": "mean L1 over VGG-19 relu features (ImageNet weights)",
    "vgg_random": "mean L1 over VGG-19 relu features (fixed random weights, not trained)",
    "pixel": "multi-scale L1 + (1 - SSIM)",
}


def _resolve_weights(
    explicit: str | os.PathLike[str] | None,
) -> tuple[Path | None, str]:
    """The VGG-19 weights file: the explicit argument, else ``$KEYVID_VGG19_WEIGHTS``."""
    if explicit is not None and str(explicit).strip():
        return Path(os.path.expandvars(os.fspath(explicit))).expanduser(), "loss.vgg_weights"
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser(), ENV_VAR
    return None, ""


__all__ = [
    "DEFAULT_FALLBACK",
    "ENV_VAR",
    "KINDS",
    "ReconstructionLoss",
    "multiscale_l1_ssim",
    "ssim",
]
