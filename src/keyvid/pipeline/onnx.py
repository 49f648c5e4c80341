"""A pipeline as ONNX files: everything a video needs, runnable with onnxruntime alone.

``export_onnx(pipe, out_dir)`` writes::

    detector.onnx      image (B, 3, S, S) in [0, 1]                 -> keypoints (B, K, 2)
    encoder.onnx       image                                        -> features_0 .. features_n
    renderer.onnx      image, source_keypoints, target_keypoints,
                       features_0 .. features_n      -> frame (B, 3, S, S), mask (B, 1, S, S)
    motion_start.onnx  k0 (B, K, 2), [action (B, A) one-hot,] eps (B, Z) -> step_input (B, H)
    motion_step.onnx   step_input (B, H), h, c (L, B, H), k0        -> keypoints (B, K, 2), h, c
    manifest.json      sizes, actions, the names above, and how to roll out

The image is encoded once (``encoder``) and rendered for every target (``renderer``),
as ``Pipeline`` does. The motion generator is split into its start (prior sample ->
decoder input) and one decoder step, so a sequence of any length is a loop: a segment
of ``length`` steps from zero LSTM state, each step fed ``step_input`` ("every") or
``step_input`` then zeros ("first"), the next segment starting from the last keypoints
with fresh noise (``keyvid.models.motion.MotionGenerator.sample``).
``examples/onnx_generate.py`` is that loop in numpy.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from keyvid.errors import KeyvidError
from keyvid.extras import require
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
    features = tuple(stage1.translator.encode(image))
    names = [f"features_{i}" for i in range(len(features))]
    batch = {0: "batch"}
    first_class = torch.zeros(b, dtype=torch.long)
    action = [F.one_hot(first_class, c.num_actions).float()] if c.action else []
    state = torch.zeros(c.layers, b, c.hidden)
    step_input = torch.zeros(b, c.hidden)
    graphs = {
        "detector": (stage1.detector, (image,), ["image"], ["keypoints"], {}),
        "encoder": (_Encoder(stage1.translator).eval(), (image,), ["image"], names, {}),
        "renderer": (
            _Renderer(stage1.translator).eval(),
            (image, kp, kp, *features),
            ["image", "source_keypoints", "target_keypoints", *names],
            ["frame", "mask"],
            {},
        ),
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
            {"h": {1: "batch"}, "c": {1: "batch"}, "h_next": {1: "batch"}, "c_next": {1: "batch"}},
        ),
    }
    # The exporter puts each module back in the mode it found it in: all are in eval mode,
    # so the pipeline is left as it was.
    for name, (module, args, inputs, outputs, axes) in graphs.items():
        dynamic = {n: batch for n in inputs + outputs} | axes
        with warnings.catch_warnings(), torch.no_grad():
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
    manifest = {
        "format": "keyvid-onnx",
        "version": 1,
        "image_size": s,
        "num_keypoints": k,
        "actions": list(pipe.actions) if c.action else None,
        "latent": c.latent,
        "hidden": c.hidden,
        "layers": c.layers,
        "length": c.length,
        "decoder_input": c.decoder_input,
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
        "rollout": "per segment of `length` frames: h = c = 0, x = motion_start(k0, [action], "
        "eps ~ N(0, I)); each frame: kp, h, c = motion_step(x, h, c, k0) (x = 0 after the "
        "first step when decoder_input is 'first'); kp = k0 + travel_scale[action] * (kp - k0); "
        "next segment from the last kp",
    }
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return out_dir


def _graph_inputs(path: Path) -> list[str]:
    import onnx

    return [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]
