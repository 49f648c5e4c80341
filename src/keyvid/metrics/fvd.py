"""Fréchet Video Distance (Unterthiner et al., 2018) with the Kinetics-400 I3D.

FVD is the Fréchet distance (``keyvid.metrics.frechet``) between the I3D logits of real
and generated videos. The weights are not bundled (no download here); two files work:

- ``i3d_pretrained_400.pt``: a state dict of TATS/VideoGPT's ``InceptionI3d``, the TF-Hub
  ``i3d-kinetics-400`` model converted by TATS (songweige/TATS
  ``tats/fvd/convert_tf_pretrained.py``), the file of TATS and content-debiased FVD. It
  loads into :class:`keyvid.models.i3d.InceptionI3d`; it holds only tensors.
- ``i3d_torchscript.pt``: StyleGAN-V's TorchScript port of the same TF-Hub model
  (universome/stylegan-v ``src/metrics/frechet_video_distance.py``). TorchScript archives
  hold code that runs when called: load only files from a source you trust.

Preprocessing is TATS's (songweige/TATS ``tats/fvd/fvd.py`` ``preprocess``, the same in
content-debiased FVD ``cdfvd/third_party/i3d/utils.py``): every frame resized to 224×224
with bilinear interpolation (``align_corners=False``, no antialiasing, no crop, so the
aspect ratio is not kept) and values mapped to [-1, 1]. The TorchScript module is then
called with ``rescale=False, resize=False, return_features=True``, which is how
universome/fvd-comparison (``compare_models.py``) checks it against TF-Hub: the input is
then the TF model's, float ``(N, 3, T, 224, 224)`` in [-1, 1], and the output the 400
logits averaged over time ("raw features before the softmax"). StyleGAN-V's own metric
passes uint8 ``(N, 3, T, H, W)`` in [0, 255] with ``rescale=True, resize=True`` and lets
the module resize; we resize ourselves so that both files see exactly the same input.

FVD from few videos is biased upwards and noisy; the usual protocol uses 2048 videos per
side. :func:`fvd_warning` says when a number should not be compared with published ones.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sized
from itertools import islice
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from keyvid.errors import KeyvidError, first_line
from keyvid.io.weights import check_state_dict, read_state_dict_file, require_file
from keyvid.metrics.frechet import frechet_distance_between
from keyvid.models.i3d import KINETICS_SIDE, MIN_FRAMES, I3DConfig, InceptionI3d

FVD_MIN_FRAMES = MIN_FRAMES  # I3D's temporal pooling needs ⌈T/8⌉ ≥ 2
FVD_STANDARD_VIDEOS = 2048  # videos per side in the usual protocol (TATS, StyleGAN-V)
FVD_MIN_RELIABLE = 256  # below this many videos on either side, fvd_warning speaks up
NUM_LOGITS = 400  # Kinetics-400 classes: the feature size

I3D_HINT = (
    "expected i3d_pretrained_400.pt (a torch.save state dict of TATS/VideoGPT's InceptionI3d, "
    "https://github.com/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt) or "
    "StyleGAN-V's i3d_torchscript.pt (https://www.dropbox.com/s/ge9e5ujwgetktms/"
    "i3d_torchscript.pt); fetch one on a machine with internet and copy it here"
)


def _expected_shapes(model: InceptionI3d) -> tuple[dict[str, tuple[int, ...]], frozenset[str]]:
    """Required keys and shapes of the state dict, and the optional ``num_batches_tracked``
    (absent from the converted TF-Hub file; ``load_state_dict`` would fill them in)."""
    state = model.state_dict()
    optional = frozenset(k for k in state if k.endswith(".num_batches_tracked"))
    return {k: tuple(v.shape) for k, v in state.items() if k not in optional}, optional


class I3DFeatures(nn.Module):
    """The loaded I3D: ``(N, 3, T, 224, 224)`` in [-1, 1] -> ``(N, 400)`` Kinetics logits.

    ``kind`` is ``"state_dict"`` (an :class:`InceptionI3d`) or ``"torchscript"`` (called
    with ``rescale=False, resize=False, return_features=True``). Frozen and always in eval
    mode; move it with ``.to(device)``. Give it videos prepared by
    :func:`preprocess_for_i3d`, or use :func:`i3d_features`, which does that in batches.
    """

    def __init__(
        self,
        network: nn.Module,
        *,
        kind: Literal["state_dict", "torchscript"],
        path: Path | None = None,
    ) -> None:
        super().__init__()
        self.network = network
        self.kind = kind
        self.path = path
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> I3DFeatures:
        """Stay in eval mode: batch norm must use the stored statistics."""
        return super().train(False)

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        if self.kind == "torchscript":
            out = self.network(videos, rescale=False, resize=False, return_features=True)
        else:
            out = self.network(videos)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(videos), NUM_LOGITS):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise KeyvidError(
                f"I3D {self.path or self.kind} returned {got} for {len(videos)} videos, "
                f"expected ({len(videos)}, {NUM_LOGITS}) Kinetics-400 logits; {I3D_HINT}"
            )
        return out


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives are zip files with ``constants.pkl`` (and ``code/``), which
    ``torch.save`` files lack; this is the test ``torch.load`` itself uses."""
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            return any(name.rsplit("/", 1)[-1] == "constants.pkl" for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _load_torchscript(path: Path) -> I3DFeatures:
    try:
        with warnings.catch_warnings():
            # torch (2.13 here) deprecates torch.jit; StyleGAN-V's file exists only as TorchScript.
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # the TorchScript loader raises RuntimeError and others
        raise KeyvidError(
            f"I3D weights {path} look like a TorchScript archive but do not load "
            f"({first_line(exc)}); {I3D_HINT}"
        ) from exc
    try:
        arguments = {a.name for a in module.forward.schema.arguments}
    except (AttributeError, RuntimeError):
        arguments = set()
    missing = [a for a in ("rescale", "resize", "return_features") if a not in arguments]
    if missing:
        raise KeyvidError(
            f"I3D weights {path}: the TorchScript module's forward has no argument "
            f"{missing[0]!r}, so it is not StyleGAN-V's i3d_torchscript.pt; {I3D_HINT}"
        )
    return I3DFeatures(module, kind="torchscript", path=path)


def _load_state_dict(path: Path) -> I3DFeatures:
    what = "I3D weights"
    state = read_state_dict_file(
        path,
        what=what,
        hint=I3D_HINT,
        unreadable="are neither a TorchScript archive nor a torch.save state dict",
    )
    model = InceptionI3d(I3DConfig())
    expected, optional = _expected_shapes(model)
    tensors = check_state_dict(
        state,
        expected,
        path=path,
        what=what,
        hint=I3D_HINT,
        model="the Kinetics-400 RGB InceptionI3d",
        optional=optional,
    )
    with torch.no_grad():
        own = model.state_dict()  # tensors sharing storage with the model's
        for key, value in tensors.items():
            own[key].copy_(value.to(own[key].dtype))
    return I3DFeatures(model, kind="state_dict", path=path)


def load_i3d(path: str | Path) -> I3DFeatures:
    """Load FVD's I3D from ``i3d_pretrained_400.pt`` or ``i3d_torchscript.pt``.

    The format is read from the file, not its name: a TorchScript archive goes through
    ``torch.jit.load`` (the file's code runs when called: load only trusted files); any
    other file through ``torch.load(weights_only=True)`` and must be the state dict of
    TATS/VideoGPT's ``InceptionI3d`` with 400 classes, every key and shape checked
    (``num_batches_tracked`` may be absent, as in the converted file). A missing,
    unreadable or mismatched file raises :class:`KeyvidError` with a one-line message.
    Returns the model on the CPU, frozen and in eval mode.
    """
    path = Path(path).expanduser()
    require_file(path, what="I3D weights", hint=I3D_HINT)
    if _is_torchscript(path):
        return _load_torchscript(path)
    return _load_state_dict(path)


def preprocess_for_i3d(videos: torch.Tensor) -> torch.Tensor:
    """(N, T, 3, H, W) videos in [0, 1] -> (N, 3, T, 224, 224) in [-1, 1], I3D's input.

    TATS's ``preprocess`` (songweige/TATS ``tats/fvd/fvd.py``): each frame resized to
    224×224, bilinear, ``align_corners=False``, no crop; then ×2 − 1. TATS starts from
    uint8 and maps with 2x/255 − 1; we skip that quantisation. Values are clamped to
    [0, 1] first; uint8 tensors are read as 0..255; 1-channel videos are repeated to RGB
    (as StyleGAN-V's metric does). Fewer than 9 frames raises :class:`KeyvidError`.
    """
    if videos.ndim != 5 or videos.shape[2] not in (1, 3):
        raise KeyvidError(f"FVD expects videos of shape (N, T, 3, H, W), got {tuple(videos.shape)}")
    n, t, c, h, w = videos.shape
    if t < FVD_MIN_FRAMES:
        raise KeyvidError(
            f"FVD needs at least {FVD_MIN_FRAMES} frames per video (I3D pools over time "
            f"after 3 temporal stride-2 stages), got {t}; evaluate longer videos"
        )
    # uint8 holds 0..255; floats are clamped to [0, 1], the range a uint8 encoding keeps.
    x = videos.float() / 255 if videos.dtype == torch.uint8 else videos.float().clamp(0, 1)
    x = x.reshape(n * t, c, h, w)  # (N·T, C, H, W): frames resized one by one
    x = F.interpolate(x, size=(KINETICS_SIDE, KINETICS_SIDE), mode="bilinear", align_corners=False)
    x = x.reshape(n, t, c, KINETICS_SIDE, KINETICS_SIDE).transpose(1, 2)  # (N, C, T, 224, 224)
    if c == 1:
        x = x.expand(-1, 3, -1, -1, -1)  # (N, 3, T, 224, 224)
    return (x * 2 - 1).contiguous()


def _device_of(model: Callable[[torch.Tensor], torch.Tensor]) -> torch.device:
    if isinstance(model, nn.Module):
        for tensor in (*model.parameters(), *model.buffers()):
            return tensor.device
    return torch.device("cpu")


def _batches(
    videos: torch.Tensor | Iterable[torch.Tensor], batch_size: int
) -> Iterator[torch.Tensor]:
    """(n, T, 3, H, W) batches of a (N, T, 3, H, W) tensor or of (T, 3, H, W) items."""
    if isinstance(videos, torch.Tensor):
        if videos.ndim != 5:
            raise KeyvidError(
                f"FVD expects videos of shape (N, T, 3, H, W), got {tuple(videos.shape)}"
            )
        yield from videos.split(batch_size)
        return
    items = iter(videos)
    while chunk := list(islice(items, batch_size)):
        shapes = {tuple(v.shape) for v in chunk}
        if len(shapes) != 1 or len(next(iter(shapes))) != 4:
            raise KeyvidError(
                f"FVD expects videos of one shape (T, 3, H, W) each, got {sorted(shapes)}"
            )
        yield torch.stack([torch.as_tensor(v) for v in chunk])  # (n, T, 3, H, W)


def i3d_features(
    model: Callable[[torch.Tensor], torch.Tensor],
    videos: torch.Tensor | Iterable[torch.Tensor],
    *,
    batch_size: int = 8,
    progress: bool = False,
) -> torch.Tensor:
    """I3D logits of videos: (N, T, 3, H, W) in [0, 1] (or (T, 3, H, W) items) -> (N, 400).

    Each batch of ``batch_size`` videos is prepared by :func:`preprocess_for_i3d` on the
    model's device and run without gradients. Returns float64 on the CPU.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    device = _device_of(model)
    total = len(videos) if isinstance(videos, torch.Tensor | Sized) else None
    outputs: list[torch.Tensor] = []
    with (
        torch.no_grad(),
        tqdm(total=total, desc="I3D", unit="video", disable=not progress) as bar,
    ):
        for batch in _batches(videos, batch_size):
            x = preprocess_for_i3d(batch.to(device))  # (n, 3, T, 224, 224)
            out = model(x)
            if out.ndim != 2 or out.shape[0] != len(batch):
                raise KeyvidError(
                    f"I3D returned shape {tuple(out.shape)} for {len(batch)} videos, "
                    "expected (videos, features)"
                )
            outputs.append(out.detach().to("cpu", torch.float64))
            bar.update(len(batch))
    if not outputs:
        raise KeyvidError("FVD got no videos")
    return torch.cat(outputs)  # (N, 400)


def fvd(
    real_features: torch.Tensor | np.ndarray, fake_features: torch.Tensor | np.ndarray
) -> float:
    """FVD between the I3D features (N, 400) of real and of generated videos.

    The squared Fréchet distance of the two Gaussians, as TATS, StyleGAN-V and the TF
    reference report it. Needs at least 2 videos a side; see :func:`fvd_warning`.
    """
    real = torch.as_tensor(real_features)
    fake = torch.as_tensor(fake_features)
    if real.ndim == 2 and fake.ndim == 2 and real.shape[1] != fake.shape[1]:
        raise KeyvidError(
            f"FVD features differ in size: {real.shape[1]} real vs {fake.shape[1]} generated"
        )
    return frechet_distance_between(real, fake)


def fvd_warning(num_real: int, num_fake: int) -> str | None:
    """A warning when either side has fewer than ``FVD_MIN_RELIABLE`` videos, else None."""
    fewest = min(num_real, num_fake)
    if fewest >= FVD_MIN_RELIABLE:
        return None
    return (
        f"FVD from {num_real} real and {num_fake} generated videos: with fewer than "
        f"{FVD_MIN_RELIABLE} a side it is biased upwards and noisy (the usual protocol uses "
        f"{FVD_STANDARD_VIDEOS}); compare it only with FVDs from the same numbers of videos"
    )
