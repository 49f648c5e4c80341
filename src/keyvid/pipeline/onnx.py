"""A pipeline as ONNX files: everything a video needs, runnable with onnxruntime alone.

``export_onnx(pipe, out_dir)`` writes::

    detector.onnx      image (B, 3, S, S) in [0, 1]                 -> keypoints (B, K, 2)
    encoder.onnx       image                                        -> features_0 .. features_n
    renderer.onnx      image, source_keypoints, target_keypoints,
                       features_0 .. features_n      -> frame (B, 3, S, S), mask (B, 1, S, S)
    manifest.json      sizes, actions, the names above and below, and how to roll out

and the motion generator, by its kind (``manifest["generator"]``). The cVAE ("cvae")::

    motion_start.onnx  k0 (B, K, 2), [action (B, A) one-hot,] eps (B, Z) -> step_input (B, H)
    motion_step.onnx   step_input (B, H), h, c (L, B, H), k0        -> keypoints (B, K, 2), h, c

The diffusion model ("diffusion", ``keyvid.models.diffusion``)::

    denoiser.onnx      x_t (B, T, 2K), t (B,) int64, k0 (B, K, 2), [action (B,) int64]
                                                                    -> x0 (B, T, 2K)

x_t and x0 are normalised offsets from k0, (k1:T − k0) / ``offset_scale`` flattened.

The image is encoded once (``encoder``) and rendered for every target (``renderer``),
as ``Pipeline`` does. A sequence of any length is a loop over segments of ``length``
frames, each starting from the last keypoints of the one before with fresh noise
(``keyvid.models.motion.SegmentSampler.sample``). The cVAE is split into its start
(prior sample -> decoder input) and one decoder step: a segment is ``length`` steps from
zero LSTM state, each fed ``step_input`` ("every") or ``step_input`` then zeros
("first"). The diffusion model is its denoiser alone: a segment is the deterministic
DDIM loop with classifier-free guidance over the manifest's ``sampling_timesteps``
(``DiffusionMotionGenerator.sample_segment``; the action index ``null_action`` is
"no action"). ``examples/onnx_generate.py`` is either loop in numpy.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from keyvid.errors import KeyvidError
from keyvid.extras import require
from keyvid.models.diffusion import DiffusionMotionGenerator, sampling_timesteps
from keyvid.models.motion import MotionGenerator
from keyvid.pipeline.generate import Pipeline

OPSET = 17


class _Encoder(nn.Module):
    def __init__(self, translator: nn.Module) -> None:
        super().__init__()
        self.translator = translator

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.translator.encode(image))


class _Renderer(nn.Module):
    def __init__(self, translator: nn.Module) -> None:
        super().__init__()
        self.translator = translator

    def forward(self, image, source_kp, target_kp, *features):
        out = self.translator(image, source_kp, target_kp, features=tuple(features))
        mask = out.mask if out.mask is not None else torch.zeros_like(out.image[:, :1])
        return out.image, mask


class _MotionStart(nn.Module):
    """[k0, a] and noise -> the decoder's input: z = mu + eps·sigma from the prior."""

    def __init__(self, motion: nn.Module) -> None:
        super().__init__()
        self.motion = motion

    def forward(self, k0: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        *action, eps = rest
        cond = torch.cat([k0.flatten(1), *action], dim=1)  # (B, 2K [+ A])
        mu, logvar = self.motion.prior(cond)
        z = mu + eps * (0.5 * logvar).exp()
        return self.motion.decoder_input(torch.cat([z, cond], dim=1))  # (B, H)


class _MotionStep(nn.Module):
    """One decoder step: (input, LSTM state, k0) -> (keypoints, new state)."""

    def __init__(self, motion: nn.Module) -> None:
        super().__init__()
        self.motion = motion

    def forward(self, step_input, h, c, k0):
        out, (h, c) = self.motion.decoder(step_input[:, None], (h, c))  # (B, 1, H)
        offsets = self.motion.to_offsets(out[:, 0]).view(k0.shape)  # (B, K, 2)
        return k0 + offsets, h, c


Graphs = dict[str, tuple]  # name -> (module, example args, input names, output names, axes)

# How the manifest's ``generator`` turns into a keypoint sequence, in words.
ROLLOUT = {
    "cvae": (
        "per segment of `length` frames: h = c = 0, x = motion_start(k0, [action], "
        "eps ~ N(0, I)); each frame: kp, h, c = motion_step(x, h, c, k0) (x = 0 after the "
        "first step when decoder_input is 'first'); kp = k0 + travel_scale[action] * (kp - k0); "
        "next segment from the last kp"
    ),
    "diffusion": (
        "per segment of `length` frames: x = x_T ~ N(0, I) (1, length, 2K); for each i, t of "
        "sampling_timesteps, with a = alphas_cumprod[i]: x0 = denoiser(x, t, k0, action), and "
        "with guidance s != 1 (models with the action input) x0 = x0_none + s * (x0_action - "
        "x0_none), x0_none for action = null_action (one call on both, batched); unless i is "
        "the last step: eps = (x - sqrt(a) * x0) / sqrt(1 - a), x = sqrt(a') * x0 + "
        "sqrt(1 - a') * eps with a' = alphas_cumprod[i + 1]; then kp = k0 + offset_scale * x0 "
        "reshaped to (length, K, 2); kp = k0 + travel_scale[action] * (kp - k0); next segment "
        "from the last kp"
    ),
}


def export_onnx(pipe: Pipeline, out_dir: str | Path) -> Path:
    """Write the ONNX files and manifest of ``pipe`` (see the module docstring)."""
    require("onnx", "onnx")
    if pipe.motion is None:
        raise KeyvidError("ONNX export needs a stage-2 model (a pipeline such as synth)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stage1, motion = pipe.stage1.eval(), pipe.motion.eval()
    c = motion.config
    s, k, b = pipe.image_size, c.num_keypoints, 2
    image = torch.rand(b, 3, s, s)
    kp = torch.rand(b, k, 2) * 2 - 1
    graphs, names = _image_graphs(stage1.translator, stage1.detector, image, kp)
    kind = "diffusion" if isinstance(motion, DiffusionMotionGenerator) else "cvae"
    motion_graphs, fields = (_diffusion_graphs if kind == "diffusion" else _cvae_graphs)(motion, kp)
    graphs |= motion_graphs
    _write_graphs(graphs, out_dir)
    manifest = {
        "format": "keyvid-onnx",
        "version": 1,
        "generator": kind,
        "image_size": s,
        "num_keypoints": k,
        "actions": list(pipe.actions) if c.action else None,
        **fields,
        # Per action (one value without the action condition): offsets from the segment's
        # start are multiplied by it (MotionGeneratorConfig.calibrate_travel).
        "travel_scale": [round(float(v), 6) for v in motion.travel_scale],
        "features": names,
        "files": {name: f"{name}.onnx" for name in graphs},
        # As exported: an input the network does not use is left out (e.g. the renderer's
        # image when the translator has no background mask).
        "inputs": {name: _graph_inputs(out_dir / f"{name}.onnx") for name in graphs},
        "outputs": {name: graph[3] for name, graph in graphs.items()},
        "image": "RGB in [0, 1], (B, 3, S, S): centre-cropped square, resized (area) to S",
        "keypoints": "(x, y) in [-1, 1], grid_sample align_corners=True convention",
        "rollout": ROLLOUT[kind],
    }
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return out_dir


def _image_graphs(
    translator: nn.Module, detector: nn.Module, image: torch.Tensor, kp: torch.Tensor
) -> tuple[Graphs, list[str]]:
    """Detector, encoder and renderer for (B, 3, S, S) image and (B, K, 2) keypoints, and
    the names of the encoder's features."""
    features = tuple(translator.encode(image))
    names = [f"features_{i}" for i in range(len(features))]
    graphs = {
        "detector": (detector, (image,), ["image"], ["keypoints"], {}),
        "encoder": (_Encoder(translator).eval(), (image,), ["image"], names, {}),
        "renderer": (
            _Renderer(translator).eval(),
            (image, kp, kp, *features),
            ["image", "source_keypoints", "target_keypoints", *names],
            ["frame", "mask"],
            {},
        ),
    }
    return graphs, names


def _cvae_graphs(motion: MotionGenerator, kp: torch.Tensor) -> tuple[Graphs, dict]:
    """motion_start and motion_step for (B, K, 2) keypoints, and the manifest's cVAE fields."""
    c, b = motion.config, kp.shape[0]
    first_class = torch.zeros(b, dtype=torch.long)
    action = [F.one_hot(first_class, c.num_actions).float()] if c.action else []  # (B, A)
    state = torch.zeros(c.layers, b, c.hidden)
    step_input = torch.zeros(b, c.hidden)
    state_axes = {name: {1: "batch"} for name in ("h", "c", "h_next", "c_next")}
    graphs = {
        "motion_start": (
            _MotionStart(motion).eval(),
            (kp, *action, torch.zeros(b, c.latent)),
            ["k0", *(["action"] if c.action else []), "eps"],
            ["step_input"],
            {},
        ),
        "motion_step": (
            _MotionStep(motion).eval(),
            (step_input, state, state, kp),
            ["step_input", "h", "c", "k0"],
            ["keypoints", "h_next", "c_next"],
            state_axes,
        ),
    }
    fields = {
        "latent": c.latent,
        "hidden": c.hidden,
        "layers": c.layers,
        "length": c.length,
        "decoder_input": c.decoder_input,
    }
    return graphs, fields


def _diffusion_graphs(motion: DiffusionMotionGenerator, kp: torch.Tensor) -> tuple[Graphs, dict]:
    """The denoiser for (B, K, 2) keypoints, and the manifest's diffusion fields: the
    sampling schedule with its ᾱ, σ_data and the guidance default."""
    c, d, b = motion.config, motion.config.diffusion, kp.shape[0]
    x_t = torch.zeros(b, c.length, 2 * c.num_keypoints)  # (B, T, 2K)
    t = torch.full((b,), d.timesteps - 1, dtype=torch.long)  # (B,)
    action = [torch.zeros(b, dtype=torch.long)] if c.action else []  # (B,) indices
    graphs = {
        "denoiser": (
            motion,
            (x_t, t, kp, *action),
            ["x_t", "t", "k0", *(["action"] if c.action else [])],
            ["x0"],
            {},
        )
    }
    schedule = sampling_timesteps(d.timesteps, d.sample_steps)
    fields = {
        "length": c.length,
        "num_actions": c.num_actions,
        "null_action": motion.null_action,  # the action index that means "no action"
        "guidance": float(d.guidance),  # classifier-free guidance scale by default
        "sampling_timesteps": schedule,  # noisiest first
        "alphas_cumprod": [float(motion.alphas_cumprod[step]) for step in schedule],
        "offset_scale": float(motion.offset_scale),  # σ_data: x0 = (k1:T - k0) / σ_data
    }
    return graphs, fields


def _write_graphs(graphs: Graphs, out_dir: Path) -> None:
    """Export each graph to ``out_dir/<name>.onnx`` with a free batch axis."""
    # The exporter puts each module back in the mode it found it in: all are in eval mode,
    # so the pipeline is left as it was.
    for name, (module, args, inputs, outputs, axes) in graphs.items():
        dynamic = {n: {0: "batch"} for n in inputs + outputs} | axes
        with warnings.catch_warnings(), torch.no_grad(), _plain_attention():
            warnings.simplefilter("ignore")  # the exporter's notes on tracing, not problems
            torch.onnx.export(
                module,
                args,
                out_dir / f"{name}.onnx",
                input_names=inputs,
                output_names=outputs,
                dynamic_axes=dynamic,
                opset_version=OPSET,
                dynamo=False,  # the TorchScript exporter: fast, and exports nn.LSTM as one op
            )


@contextmanager
def _plain_attention() -> Iterator[None]:
    """Trace transformer layers as plain ops: their fused inference kernel
    (``aten::_transformer_encoder_layer_fwd``) has no ONNX form."""
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


def _graph_inputs(path: Path) -> list[str]:
    import onnx

    return [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]
