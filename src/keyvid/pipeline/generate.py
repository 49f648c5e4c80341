"""Inference: one image + an action -> videos (paper Fig. 2), and motion transfer.

    pipe = keyvid.Pipeline.from_pretrained("synth")
    result = pipe(image, action="squats", frames=32, samples=4, seed=0)
    result.frames      # (4, 33, 64, 64, 3) uint8: the input, then 32 generated frames

    for chunk in pipe.stream(image, action="squats", frames=4096):  # long videos
        chunk.frames   # (1, n, 64, 64, 3): the next n frames, rendered when asked for

Q(image) -> k0; M(k0, action, z) -> k1:T; T(image, k0, kt) -> frame t. The image
is encoded by T once per call and frames are rendered in batches. The pipeline
does not train: it only reads checkpoints.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from keyvid.checkpoint import load_checkpoint
from keyvid.data.actions import normalize_action_name, resolve_action
from keyvid.errors import KeyvidError
from keyvid.io.image import as_rgb, pil_to_rgb, read_image
from keyvid.models.diffusion import DiffusionMotionGenerator
from keyvid.models.load import load_motion, load_stage1
from keyvid.models.motion import SegmentSampler
from keyvid.models.stage1 import KeypointTranslator
from keyvid.pipeline.loading import check_keypoint_counts, stage1_reference

MAX_FRAMES = 4096  # a guard against typos (320000 frames would take hours and fill the disk)
MAX_MOTION_SCALE = 10.0  # beyond this the keypoints leave the image; a typo, not a choice
MAX_GUIDANCE = 20.0  # classifier-free guidance far past MDM's 2.5 only adds noise
# Frames per translator call. On a CPU small batches keep the activations in cache:
# 128 frames at 64² render at 312 / 290 / 156 / 108 frames/s with batches of
# 8 / 16 / 32 / 64 on 2 cores (measured); a GPU wants large ones.
RENDER_BATCH = {"cpu": 8, "cuda": 64}
# Pixels (samples × frames × H × W) per chunk of a stream: 64 frames of 64², 4 of 256².
CHUNK_PIXELS = 1 << 18


@dataclass
class Generation:
    """What a pipeline call returns; index 0 along the time axis is the input image.

    frames: (S, T+1, H, W, 3) uint8; keypoints: (S, T+1, K, 2) in [-1, 1] (x, y);
    masks: (S, T+1, H, W) float in [0, 1], the translator's background mask
    (1 = copied from the input image; all ones at t = 0).
    """

    frames: np.ndarray
    keypoints: np.ndarray
    masks: np.ndarray
    action: str | None


@dataclass
class GenerationStream:
    """Videos rendered chunk by chunk (``Pipeline.stream``), so that memory holds one chunk.

    ``keypoints`` (S, T, K, 2) and ``action`` are there at once: the motion is small and
    sampled whole. Iterating renders the frames and yields ``Generation`` chunks, the
    consecutive time slices (S, n, ...) of what ``collect()`` returns; each iteration
    renders again, with the same result.
    """

    keypoints: np.ndarray
    action: str | None
    image_size: int
    render: Callable[[], Iterator[Generation]]

    @property
    def samples(self) -> int:
        return self.keypoints.shape[0]

    @property
    def length(self) -> int:
        """Frames per video, the input included."""
        return self.keypoints.shape[1]

    def __iter__(self) -> Iterator[Generation]:
        return self.render()

    def collect(self) -> Generation:
        """Every chunk in one ``Generation``: what ``Pipeline.__call__`` returns."""
        s, t, size = self.samples, self.length, self.image_size
        frames = np.empty((s, t, size, size, 3), dtype=np.uint8)
        masks = np.empty((s, t, size, size), dtype=np.float32)
        start = 0
        for chunk in self:
            stop = start + chunk.frames.shape[1]
            frames[:, start:stop], masks[:, start:stop] = chunk.frames, chunk.masks
            start = stop
        return Generation(frames=frames, keypoints=self.keypoints, masks=masks, action=self.action)


def prepare_image(image: str | Path | Image.Image | np.ndarray, size: int) -> torch.Tensor:
    """Any image -> (1, 3, size, size) float in [0, 1]: ``square_image`` as a tensor."""
    x = torch.from_numpy(square_image(image, size))
    return x.permute(2, 0, 1)[None].float() / 255.0


def square_image(image: str | Path | Image.Image | np.ndarray, size: int) -> np.ndarray:
    """Any image -> (size, size, 3) uint8, as the pipeline sees it.

    Files and Pillow images get their EXIF rotation applied, transparency over white and
    greyscale/palette/16-bit made RGB (``keyvid.io.read_image``). A non-square
    image is centre-cropped to a square, then resized (area-averaged) to ``size``.
    """
    if isinstance(image, str | Path):
        rgb = read_image(image)
    elif isinstance(image, Image.Image):
        rgb = pil_to_rgb(ImageOps.exif_transpose(image))
    else:
        rgb = as_rgb(np.asarray(image))
    h, w = rgb.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(rgb[top : top + side, left : left + side])
    if side != size:
        square = square.resize((size, size), Image.Resampling.BOX if side > size else Image.BICUBIC)
    return np.asarray(square, dtype=np.uint8).copy()


class Pipeline:
    """Detector Q, translator T and motion generator M, ready to generate videos."""

    def __init__(
        self,
        stage1: KeypointTranslator,
        motion: SegmentSampler | None,
        actions: tuple[str, ...] = (),
    ) -> None:
        self.stage1 = stage1.eval()
        self.motion = motion.eval() if motion is not None else None
        self.actions = tuple(actions)
        self.image_size = stage1.config.image_size

    @classmethod
    def from_pretrained(
        cls, checkpoint: str | Path = "synth", *, stage1: str | Path | None = None
    ) -> Pipeline:
        """Load a shipped name (``synth``), a pipeline folder, or a stage-2 checkpoint/run.

        A stage-2 checkpoint brings the stage 1 named in its config; ``stage1``
        overrides that. A stage-1 checkpoint alone can only ``animate``.
        """
        ckpt = load_checkpoint(checkpoint)
        if ckpt.kind == "stage1":
            model, _ = load_stage1(ckpt)
            return cls(model, None)
        motion, ckpt2, raw = load_motion(ckpt)
        if stage1 is None:
            stage1 = ckpt if ckpt.kind == "pipeline" else stage1_reference(ckpt2)
        model, _ = load_stage1(stage1)
        check_keypoint_counts(model, motion, str(ckpt2.path))
        return cls(model, motion, tuple(raw["model"]["actions"]))

    # -- actions ---------------------------------------------------------------------------

    @property
    def uses_action(self) -> bool:
        return self.motion is not None and self.motion.config.action

    @property
    def takes_guidance(self) -> bool:
        """Whether ``guidance`` means anything: a diffusion generator conditioned on the action."""
        return isinstance(self.motion, DiffusionMotionGenerator) and self.uses_action

    def action_index(self, action: str | int) -> int:
        """A class index from a name (case/space/underscore-insensitive) or an index."""
        if not self.actions:
            raise KeyvidError("this model has no action classes")
        try:
            return resolve_action(action, self.actions)
        except KeyvidError:
            close = _closest(str(action), self.actions)
            hint = f" (did you mean {close!r}?)" if close else ""
            raise KeyvidError(
                f"unknown action {action!r}{hint}; choose one of: " + ", ".join(self.actions)
            ) from None

    # -- generation ------------------------------------------------------------------------

    @torch.inference_mode()
    def __call__(
        self,
        image,
        action: str | int | None = None,
        *,
        frames: int = 32,
        samples: int = 1,
        seed: int = 0,
        motion_scale: float | None = None,
        guidance: float | None = None,
    ) -> Generation:
        """Generate ``samples`` videos of ``frames`` future frames for ``image`` and ``action``.

        ``motion_scale`` multiplies how far the keypoints move from the input pose: None
        uses the factor measured for the action when the model was trained
        (``calibrate_travel``; 1 for models without it), 1.0 gives the raw samples.
        ``guidance`` is a diffusion generator's classifier-free guidance scale (None: the
        model's default; 1: the conditioned model alone; higher: more of the action).
        """
        options = {"motion_scale": motion_scale, "guidance": guidance}
        stream = self.stream(image, action, frames=frames, samples=samples, seed=seed, **options)
        return stream.collect()

    @torch.inference_mode()
    def stream(
        self,
        image,
        action: str | int | None = None,
        *,
        frames: int = 32,
        samples: int = 1,
        seed: int = 0,
        motion_scale: float | None = None,
        guidance: float | None = None,
        chunk: int | None = None,
    ) -> GenerationStream:
        """The videos of ``__call__``, rendered ``chunk`` frames at a time while the stream
        is iterated (default: ``CHUNK_PIXELS`` pixels a chunk), for videos too long to hold.

        The arguments are checked and the motion is sampled here, before any frame; the
        frames do not depend on ``chunk``.
        """
        self._check_request(action, frames, samples, motion_scale, guidance)
        index = self.action_index(action) if action is not None else None
        x = prepare_image(image, self.image_size)  # (1, 3, H, W)
        k0 = self.stage1.detector(x)  # (1, K, 2)
        k0s = k0.expand(samples, -1, -1)
        act = torch.full((samples,), index) if self.uses_action else None
        rng = torch.Generator().manual_seed(seed)
        future = self.motion.sample(
            k0s, act, frames, rng, scale=motion_scale, guidance=guidance
        )  # (S, T, K, 2)
        keypoints = torch.cat([k0s[:, None], future], dim=1)  # (S, frames+1, K, 2)
        name = self.actions[index] if index is not None else None
        return self._stream(x, k0, keypoints, name, chunk)

    @torch.inference_mode()
    def animate(self, image, driving: np.ndarray) -> Generation:
        """Move ``image`` as the object in ``driving`` (T, H, W, 3) moves (relative motion).

        Keypoints of the driving video are detected on every frame; the image's
        keypoints follow their displacement from the first driving frame,
        k_t = k0(image) + (k_t(driving) − k_0(driving)), as in First Order Motion
        Model's relative mode, so the image keeps its own shape and position.
        """
        return self.stream_animate(image, driving).collect()

    @torch.inference_mode()
    def stream_animate(
        self, image, driving: np.ndarray, *, chunk: int | None = None
    ) -> GenerationStream:
        """``animate``'s video rendered chunk by chunk (see ``stream``). The driving frames
        are all detected here; ``square_image`` as ``read_video``'s transform keeps a long
        driving video small in memory without changing the result."""
        if len(driving) == 0:
            raise KeyvidError("the driving video has no frames")
        x = prepare_image(image, self.image_size)
        k0 = self.stage1.detector(x)  # (1, K, 2)
        tracks, step = [], self._render_batch()
        for lo in range(0, len(driving), step):
            batch = torch.cat([prepare_image(f, self.image_size) for f in driving[lo : lo + step]])
            tracks.append(self.stage1.detector(batch))
        track = torch.cat(tracks)  # (T, K, 2)
        keypoints = (k0 + (track - track[:1]))[None]  # (1, T, K, 2)
        return self._stream(x, k0, keypoints, None, chunk)

    @torch.inference_mode()
    def detect(self, image) -> np.ndarray:
        """The image's keypoints, (K, 2) in [-1, 1]: the starting point of an edit."""
        return self.stage1.detector(prepare_image(image, self.image_size))[0].float().numpy()

    @torch.inference_mode()
    def edit(self, image, keypoints: np.ndarray) -> Generation:
        """Render ``image`` with its object posed as ``keypoints`` (K, 2) or (N, K, 2): the
        translator's analogy from the detected keypoints to the given ones (paper Fig. 8:
        move keypoints to move, stretch or remove parts). Frame 0 is the input, frame n
        the n-th keypoint set."""
        targets = torch.as_tensor(np.asarray(keypoints, dtype=np.float32))
        if targets.dim() == 2:
            targets = targets[None]
        k = self.stage1.detector.config.num_keypoints
        if targets.dim() != 3 or targets.shape[1:] != (k, 2):
            raise KeyvidError(
                f"keypoints of shape {tuple(targets.shape)} do not fit this model: it has "
                f"{k} keypoints, so give ({k}, 2) or (N, {k}, 2)"
            )
        if not torch.isfinite(targets).all():
            raise KeyvidError("keypoints must be finite numbers")
        x = prepare_image(image, self.image_size)
        k0 = self.stage1.detector(x)  # (1, K, 2)
        keypoints = torch.cat([k0, targets])[None]  # (1, 1 + N, K, 2)
        return self._stream(x, k0, keypoints, None).collect()

    def _check_request(
        self,
        action: str | int | None,
        frames: int,
        samples: int,
        motion_scale: float | None,
        guidance: float | None,
    ) -> None:
        if self.motion is None:
            raise KeyvidError(
                "this checkpoint has no motion generator (stage 1 only); "
                "train stage 2 or use a pipeline such as synth"
            )
        _check_count("frames", frames, MAX_FRAMES)
        _check_count("samples", samples, 64)
        if motion_scale is not None and not 0 <= motion_scale <= MAX_MOTION_SCALE:
            raise KeyvidError(
                f"motion scale must be from 0 to {MAX_MOTION_SCALE} (1: the model's raw "
                f"samples), got {motion_scale!r}"
            )
        if action is None and self.uses_action:
            raise KeyvidError(
                "this model needs an action; choose one of: " + ", ".join(self.actions)
            )
        self.check_guidance(guidance)

    def check_guidance(self, guidance: float | None) -> None:
        """Raise a KeyvidError that says why, unless ``guidance`` (None or a scale) fits."""
        if guidance is None:
            return
        if not self.takes_guidance:
            raise KeyvidError(
                "guidance steers a diffusion motion generator towards the action; this "
                f"model's generator is a {self.motion.config.kind} "
                f"{'with' if self.uses_action else 'without'} the action: leave guidance out"
            )
        if isinstance(guidance, bool) or not 0 <= guidance <= MAX_GUIDANCE:
            raise KeyvidError(
                f"guidance must be from 0 to {MAX_GUIDANCE:g} (1: no guidance; the model's "
                f"default is {self.motion.config.diffusion.guidance:g}), got {guidance!r}"
            )

    def _render_batch(self) -> int:
        device = next(self.stage1.parameters()).device
        return RENDER_BATCH.get(device.type, RENDER_BATCH["cuda"])

    def _stream(
        self,
        x: torch.Tensor,
        k0: torch.Tensor,
        keypoints: torch.Tensor,
        action: str | None,
        chunk: int | None = None,
    ) -> GenerationStream:
        """A stream of ``x`` translated to every keypoint set of (S, T, K, 2)."""
        if chunk is None:
            chunk = max(1, CHUNK_PIXELS // (len(keypoints) * self.image_size**2))
        _check_count("chunk", chunk, MAX_FRAMES + 1)
        render = functools.partial(self._render, x, k0, keypoints, action, chunk)
        return GenerationStream(keypoints.float().numpy(), action, self.image_size, render)

    @torch.inference_mode()
    def _render(
        self,
        x: torch.Tensor,
        k0: torch.Tensor,
        keypoints: torch.Tensor,
        action: str | None,
        chunk: int,
    ) -> Iterator[Generation]:
        """The frames of ``_translate``, ``chunk`` time steps (of every sample) at a time."""
        s = len(keypoints)
        points = keypoints.float().numpy()
        start = 0
        for rows in _rebatch(self._translate(x, k0, keypoints), s * chunk):
            n = len(rows) // s
            video = rows.view(n, s, *rows.shape[1:]).transpose(0, 1)  # (S, n, 4, H, W)
            frames = (video[:, :, :3].clamp(0, 1).permute(0, 1, 3, 4, 2) * 255).round()
            yield Generation(
                frames=frames.to(torch.uint8).contiguous().numpy(),
                keypoints=points[:, start : start + n],
                masks=video[:, :, 3].contiguous().numpy(),
                action=action,
            )
            start += n

    def _translate(
        self, x: torch.Tensor, k0: torch.Tensor, keypoints: torch.Tensor
    ) -> Iterator[torch.Tensor]:
        """Image and mask, (n, 4, H, W), per render batch in time order: the input (mask 1)
        for every sample, then every sample's frame 1, frame 2, ... The batches do not
        depend on how a stream is chunked, so neither do the frames."""
        s = len(keypoints)
        yield torch.cat([x, torch.ones_like(x[:, :1])], dim=1).expand(s, -1, -1, -1)
        translator = self.stage1.translator
        features = translator.encode(x)  # [(1, C, h, w)] per scale: once per call
        targets = keypoints[:, 1:].transpose(0, 1).reshape(-1, *keypoints.shape[2:])
        step = self._render_batch()
        for lo in range(0, len(targets), step):
            kt = targets[lo : lo + step]
            n = len(kt)
            out = translator(
                x.expand(n, -1, -1, -1),
                k0.expand(n, -1, -1),
                kt,
                features=tuple(f.expand(n, -1, -1, -1) for f in features),
            )
            mask = out.mask if out.mask is not None else torch.zeros_like(out.image[:, :1])
            yield torch.cat([out.image, mask], dim=1)


def _rebatch(parts: Iterator[torch.Tensor], size: int) -> Iterator[torch.Tensor]:
    """The rows of ``parts`` regrouped into tensors of ``size`` rows (the last may be fewer)."""
    held: list[torch.Tensor] = []
    count = 0
    for part in parts:
        held.append(part)
        count += len(part)
        while count >= size:
            rows = torch.cat(held)
            yield rows[:size]
            held, count = [rows[size:]], count - size
    if count:
        yield torch.cat(held)


def _check_count(name: str, value: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise KeyvidError(f"{name} must be a whole number from 1 to {maximum}, got {value!r}")


def _closest(name: str, actions: tuple[str, ...]) -> str | None:
    import difflib

    normal = {normalize_action_name(a): a for a in actions}
    match = difflib.get_close_matches(normalize_action_name(name), list(normal), n=1, cutoff=0.4)
    return normal[match[0]] if match else None
