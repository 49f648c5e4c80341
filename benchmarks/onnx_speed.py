"""ONNX (onnxruntime, CPU) against PyTorch for the shipped `synth` pipeline: each network
and a whole 32-frame video from one image, best of several runs, measured side by side.

    python -m benchmarks.onnx_speed [--repeats 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import best_of, print_table, write_result
from keyvid.pipeline.generate import Pipeline, prepare_image
from keyvid.pipeline.onnx import export_onnx

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "onnx_generate.py"
FRAMES = 32


def load_example():
    spec = importlib.util.spec_from_file_location("onnx_generate", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def onnx_timings(pipe: Pipeline, x: torch.Tensor, repeats: int) -> tuple[dict, np.ndarray]:
    """Seconds per case with onnxruntime, and the image's keypoints; the sessions (and
    their thread pools) are gone when this returns."""
    example = load_example()
    with tempfile.TemporaryDirectory() as tmp:
        manifest, sessions = example.load(export_onnx(pipe, Path(tmp) / "onnx"))
        x_np = x.numpy()
        (k0,) = sessions["detector"].run(None, {"image": x_np})
        targets = np.repeat(k0, FRAMES, 0)
        action = pipe.actions.index("squats")

        def noise() -> np.ndarray:
            return np.zeros((1, manifest["latent"]), np.float32)

        cases = {
            "detector (1 image)": lambda: sessions["detector"].run(None, {"image": x_np}),
            f"render {FRAMES} frames": lambda: example.render(
                manifest, sessions, x_np, k0, targets
            ),
            f"motion {FRAMES} steps": lambda: example.sample_keypoints(
                manifest, sessions, k0, action, FRAMES, noise
            ),
            f"video, {FRAMES} frames": lambda: example.generate(
                manifest, sessions, x_np, action, FRAMES, noise
            ),
        }
        return {name: best_of(fn, repeats) for name, fn in cases.items()}, k0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained("synth")
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    x = prepare_image(image, pipe.image_size)
    onnx_seconds, k0 = onnx_timings(pipe, x, args.repeats)
    action = pipe.actions.index("squats")
    kp = torch.from_numpy(k0)
    with torch.inference_mode():
        torch_cases = {
            "detector (1 image)": lambda: pipe.stage1.detector(x),
            f"render {FRAMES} frames": lambda: pipe._render(
                x, kp, torch.cat([kp, kp.expand(FRAMES, -1, -1)])[None], None
            ),
            f"motion {FRAMES} steps": lambda: pipe.motion.sample(
                kp, torch.tensor([action]), FRAMES
            ),
            f"video, {FRAMES} frames": lambda: pipe(image, "squats", frames=FRAMES),
        }
        torch_seconds = {name: best_of(fn, args.repeats) for name, fn in torch_cases.items()}
    rows = [
        {
            "case": name,
            "pytorch_s": torch_seconds[name],
            "onnxruntime_s": onnx_seconds[name],
            "onnx_speedup": torch_seconds[name] / onnx_seconds[name],
        }
        for name in onnx_seconds
    ]
    print_table(rows, ["case", "pytorch_s", "onnxruntime_s", "onnx_speedup"])
    write_result(
        "onnx_speed",
        rows,
        note="best of runs; onnxruntime CPUExecutionProvider with its default threads, torch "
        "with its default threads; the video includes detection, motion and rendering",
    )


if __name__ == "__main__":
    main()
