"""Generate a video from one image with keyvid's ONNX files and onnxruntime alone
(no torch, no keyvid): numpy, onnxruntime and Pillow.

    keyvid export synth onnx-synth --format onnx
    python examples/onnx_generate.py onnx-synth actor.png squats squats.gif [--frames 32] [--seed 0]

The loop below is what ``keyvid.Pipeline.__call__`` does: keypoints of the image, a
sampled keypoint sequence, and the image rendered once per frame of it (encoder once,
renderer per frame). The sequence comes segment by segment from the manifest's
generator: the cVAE's motion_start, then motion_step frame by frame; or the diffusion
model's DDIM loop over its denoiser, with classifier-free guidance (--guidance).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

try:
    import onnxruntime as ort
except ImportError:
    raise SystemExit("this example needs onnxruntime: pip install onnxruntime") from None


def load(folder: str | Path) -> tuple[dict, dict[str, ort.InferenceSession]]:
    """The manifest and one onnxruntime session per file."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    options = ort.SessionOptions()
    # Five sessions take turns: a thread pool that spins after its run steals the cores
    # the next session needs (on 2 cores this made a video 1.3x slower).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sessions = {
        name: ort.InferenceSession(str(folder / file), options, providers=["CPUExecutionProvider"])
        for name, file in manifest["files"].items()
    }
    return manifest, sessions


def prepare(path: str | Path, size: int) -> np.ndarray:
    """An RGB image file -> (1, 3, size, size) float32 in [0, 1]: centre square, area resize."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    square = image.crop((left, top, left + side, top + side))
    if side != size:
        square = square.resize((size, size), Image.BOX if side > size else Image.BICUBIC)
    return (np.asarray(square, dtype=np.float32) / 255.0).transpose(2, 0, 1)[None]


def sample_keypoints(manifest, sessions, k0, action, frames, noise, guidance=None) -> np.ndarray:
    """(1, K, 2) first keypoints -> (frames, K, 2): segments of ``length`` frames, each
    from the last keypoints of the one before and a fresh ``noise()`` draw of
    ``noise_shape(manifest)``. ``guidance``: the diffusion model's scale (None: the
    manifest's)."""
    segment = SEGMENTS[manifest.get("generator", "cvae")]
    # How far the keypoints move, measured per action when the model was trained.
    factors = manifest["travel_scale"]
    scale = factors[action] if manifest["actions"] is not None else factors[0]
    out, start = [], k0
    while len(out) < frames:
        keypoints = segment(manifest, sessions, start, action, noise(), guidance)  # (T, K, 2)
        out.extend(start[0] + scale * (keypoints - start[0]))
        start = out[-1][None]
    return np.stack(out[:frames])


def noise_shape(manifest) -> tuple[int, ...]:
    """The N(0, I) draw of one segment: the cVAE's latent (1, Z) or the diffusion
    model's x_T (1, length, 2K)."""
    if manifest.get("generator", "cvae") == "cvae":
        return (1, manifest["latent"])
    return (1, manifest["length"], 2 * manifest["num_keypoints"])


def cvae_segment(manifest, sessions, start, action, eps, guidance) -> np.ndarray:
    """(1, K, 2) start -> (length, K, 2): the decoder from zero LSTM state, fed
    motion_start's output at every step ("every") or at the first only ("first")."""
    if guidance is not None:
        raise ValueError("guidance applies to diffusion motion generators, not the cVAE")
    inputs = {"k0": start, "eps": eps.astype(np.float32)}
    if manifest["actions"] is not None:
        onehot = np.zeros((1, len(manifest["actions"])), np.float32)
        onehot[0, action] = 1.0
        inputs["action"] = onehot
    (first,) = sessions["motion_start"].run(None, inputs)
    h = c = np.zeros((manifest["layers"], 1, manifest["hidden"]), np.float32)
    x, out = first, []
    for t in range(manifest["length"]):
        if t > 0 and manifest["decoder_input"] == "first":
            x = np.zeros_like(first)
        kp, h, c = sessions["motion_step"].run(None, {"step_input": x, "h": h, "c": c,
                                                      "k0": start})  # fmt: skip
        out.append(kp[0])
    return np.stack(out)


def diffusion_segment(manifest, sessions, start, action, x_t, guidance) -> np.ndarray:
    """(1, K, 2) start -> (length, K, 2): deterministic DDIM (eta = 0) from x_T (1, T, 2K)
    over the manifest's timesteps, the last step's x0 being the sample."""
    s = manifest["guidance"] if guidance is None else float(guidance)
    schedule, alphas = manifest["sampling_timesteps"], manifest["alphas_cumprod"]
    x = x_t.astype(np.float32)
    for i, step in enumerate(schedule):
        x0 = denoise(manifest, sessions, x, step, start, action, s)  # (1, T, 2K)
        if i + 1 < len(schedule):
            a, a_next = np.float32(alphas[i]), np.float32(alphas[i + 1])
            eps = (x - np.sqrt(a) * x0) / np.sqrt(1 - a)
            x = np.sqrt(a_next) * x0 + np.sqrt(1 - a_next) * eps
    offsets = x0[0] * np.float32(manifest["offset_scale"])  # (T, 2K), from normalised x0
    return start[0] + offsets.reshape(len(offsets), -1, 2)


def denoise(manifest, sessions, x, step, k0, action, guidance) -> np.ndarray:
    """x0 (1, T, 2K) of x_t (1, T, 2K) at timestep ``step``, with classifier-free guidance:
    x0(none) + guidance * (x0(action) - x0(none)), both from one batched call."""
    inputs = {"x_t": x, "t": np.array([step], np.int64), "k0": k0}
    if manifest["actions"] is None:
        return sessions["denoiser"].run(None, inputs)[0]
    if guidance == 1:
        return sessions["denoiser"].run(None, inputs | {"action": np.array([action], np.int64)})[0]
    both = {name: np.concatenate([v, v]) for name, v in inputs.items()}
    both["action"] = np.array([action, manifest["null_action"]], np.int64)
    (x0,) = sessions["denoiser"].run(None, both)  # (2, T, 2K)
    conditioned, unconditioned = x0[:1], x0[1:]
    return unconditioned + guidance * (conditioned - unconditioned)


SEGMENTS = {"cvae": cvae_segment, "diffusion": diffusion_segment}


def render(manifest, sessions, image, k0, targets) -> np.ndarray:
    """The image posed as each of (T, K, 2) targets -> (T, S, S, 3) uint8."""
    features = sessions["encoder"].run(None, {"image": image})  # once per image
    n = len(targets)
    inputs = {
        "image": np.repeat(image, n, 0),
        "source_keypoints": np.repeat(k0, n, 0),
        "target_keypoints": targets.astype(np.float32),
    }
    names = manifest["features"]
    inputs.update({name: np.repeat(f, n, 0) for name, f in zip(names, features, strict=True)})
    wanted = manifest["inputs"]["renderer"]  # without "image" for a translator with no mask
    frame, _ = sessions["renderer"].run(None, {k: v for k, v in inputs.items() if k in wanted})
    return (np.clip(frame, 0, 1).transpose(0, 2, 3, 1) * 255).round().astype(np.uint8)


def generate(manifest, sessions, image, action, frames, noise, guidance=None):
    """(1, 3, S, S) image -> ((frames + 1, S, S, 3) uint8 video, (frames + 1, K, 2) keypoints);
    frame 0 is the input."""
    (k0,) = sessions["detector"].run(None, {"image": image})
    future = sample_keypoints(manifest, sessions, k0, action, frames, noise, guidance)
    video = render(manifest, sessions, image, k0, future)
    first = (image[0].transpose(1, 2, 0) * 255).round().astype(np.uint8)
    return np.concatenate([first[None], video]), np.concatenate([k0, future])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="what `keyvid export ... --format onnx` wrote")
    parser.add_argument("image")
    parser.add_argument("action", help="an action name of the manifest (ignored for one action)")
    parser.add_argument("out", help="output .gif")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--guidance", type=float, default=None,
        help="classifier-free guidance scale of a diffusion model (default: the manifest's)",
    )  # fmt: skip
    args = parser.parse_args()
    manifest, sessions = load(args.folder)
    if args.guidance is not None and manifest.get("generator", "cvae") != "diffusion":
        parser.error("--guidance applies to diffusion models; this is a cVAE")
    if args.guidance is not None and manifest["actions"] is None:
        parser.error("--guidance steers towards the action; this model has no action condition")
    actions = manifest["actions"] or [args.action]
    if args.action not in actions:
        parser.error(f"unknown action {args.action!r}; choose one of: {', '.join(actions)}")
    rng = np.random.default_rng(args.seed)
    image = prepare(args.image, manifest["image_size"])
    shape = noise_shape(manifest)
    video, _ = generate(
        manifest, sessions, image, actions.index(args.action), args.frames,
        lambda: rng.standard_normal(shape), args.guidance,
    )  # fmt: skip
    frames = [Image.fromarray(f) for f in video]
    frames[0].save(args.out, save_all=True, append_images=frames[1:], duration=125, loop=0)
    print(args.out)


if __name__ == "__main__":
    main()
