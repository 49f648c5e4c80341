"""Generate a video from one image with keyvid's ONNX files and onnxruntime alone
(no torch, no keyvid): numpy, onnxruntime and Pillow.

    keyvid export synth onnx-synth --format onnx
    python examples/onnx_generate.py onnx-synth actor.png squats squats.gif [--frames 32] [--seed 0]

The loop below is what ``keyvid.Pipeline.__call__`` does: keypoints of the image, a
sampled keypoint sequence (motion_start, then motion_step frame by frame), and the
image rendered once per frame of it (encoder once, renderer per frame).
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


def sample_keypoints(manifest, sessions, k0, action, frames, noise) -> np.ndarray:
    """(1, K, 2) first keypoints -> (frames, K, 2): segments of ``length`` decoder steps,
    each from zero LSTM state and a fresh ``noise()`` (1, latent) draw."""
    out, start = [], k0
    state_shape = (manifest["layers"], 1, manifest["hidden"])
    # How far the keypoints move, measured per action when the model was trained.
    factors = manifest["travel_scale"]
    scale = factors[action] if manifest["actions"] is not None else factors[0]
    while len(out) < frames:
        inputs = {"k0": start, "eps": noise().astype(np.float32)}
        if manifest["actions"] is not None:
            onehot = np.zeros((1, len(manifest["actions"])), np.float32)
            onehot[0, action] = 1.0
            inputs["action"] = onehot
        (first,) = sessions["motion_start"].run(None, inputs)
        h = c = np.zeros(state_shape, np.float32)
        x = first
        for t in range(manifest["length"]):
            if t > 0 and manifest["decoder_input"] == "first":
                x = np.zeros_like(first)
            kp, h, c = sessions["motion_step"].run(None, {"step_input": x, "h": h, "c": c,
                                                          "k0": start})  # fmt: skip
            out.append(start[0] + scale * (kp[0] - start[0]))
        start = out[-1][None]
    return np.stack(out[:frames])


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


def generate(manifest, sessions, image, action, frames, noise):
    """(1, 3, S, S) image -> ((frames + 1, S, S, 3) uint8 video, (frames + 1, K, 2) keypoints);
    frame 0 is the input."""
    (k0,) = sessions["detector"].run(None, {"image": image})
    future = sample_keypoints(manifest, sessions, k0, action, frames, noise)
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
    args = parser.parse_args()
    manifest, sessions = load(args.folder)
    actions = manifest["actions"] or [args.action]
    if args.action not in actions:
        parser.error(f"unknown action {args.action!r}; choose one of: {', '.join(actions)}")
    rng = np.random.default_rng(args.seed)
    image = prepare(args.image, manifest["image_size"])
    video, _ = generate(
        manifest, sessions, image, actions.index(args.action), args.frames,
        lambda: rng.standard_normal((1, manifest["latent"])),
    )  # fmt: skip
    frames = [Image.fromarray(f) for f in video]
    frames[0].save(args.out, save_all=True, append_images=frames[1:], duration=125, loop=0)
    print(args.out)


if __name__ == "__main__":
    main()
