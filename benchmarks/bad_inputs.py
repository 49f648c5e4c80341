"""Every kind of bad input issues 7 and 9 list, fed to the real `keyvid` command line,
and the commands of an optional extra run without it (issue 20).

Each case runs `python -m keyvid ...` in a fresh process and records the exit status
and the first line of what it printed. Handled means: a file keyvid can read (RGBA,
16-bit, CMYK, EXIF-rotated, 1×1 images) works (status 0), and everything else is one
`error:` line with status 2 and no traceback. A missing extra is simulated by a stub
package first on PYTHONPATH whose import fails as an absent one does.

    python -m benchmarks.bad_inputs
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import print_table, write_result
from keyvid.data.prepare import prepare_synthetic
from keyvid.data.synth import render_video
from keyvid.io import write_video


def _image(path: Path, mode: str, size: int = 64, exif_rotate: bool = False) -> Path:
    frame, _ = render_video(7, np.random.SeedSequence(5), size=64, frames=1)
    image = Image.fromarray(frame[0]).resize((size, size)).convert(mode)
    if exif_rotate:
        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: rotate 90° on display
        image.save(path, exif=exif)
    else:
        image.save(path)
    return path


def cases(tmp: Path) -> list[tuple[str, str, list[str], bool]]:
    """(group, case, keyvid arguments, whether it should succeed)."""
    out = str(tmp / "out.gif")
    img = str(_image(tmp / "ok.png", "RGB"))
    clip = tmp / "clip.mp4"
    frames = np.stack([np.asarray(Image.open(img).convert("RGB"))] * 8)
    write_video(clip, frames, fps=8)
    truncated = tmp / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    (tmp / "empty.mp4").write_bytes(b"")
    (tmp / "text.mp4").write_text("not a video\n")
    (tmp / "noise.png").write_bytes(np.random.default_rng(0).bytes(500))
    Image.new("1", (8000, 8000)).save(tmp / "huge.png")
    (tmp / "folder").mkdir()
    (tmp / "bad.yaml").write_text("optim: {lr: [\n")
    (tmp / "notckpt").mkdir()
    trunc_ckpt = tmp / "trunc_ckpt"
    trunc_ckpt.mkdir()
    from keyvid.checkpoint import PRETRAINED_DIR

    for name in ("config.yaml", "meta.json"):
        (trunc_ckpt / name).write_bytes((PRETRAINED_DIR / "synth" / name).read_bytes())
    weights = (PRETRAINED_DIR / "synth" / "model.safetensors").read_bytes()
    (trunc_ckpt / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    (tmp / "bad_i3d.pt").write_bytes(b"\x00" * 100)
    data = str(prepare_synthetic(tmp / "synth", train=9, test=9, frames=40, progress=False))
    own = tmp / "own"
    for name in ("wave/a.mp4", "wave/b.mp4", "jump/c.mp4"):
        (own / name).parent.mkdir(parents=True, exist_ok=True)
        write_video(own / name, np.concatenate([frames] * 3), fps=8)
    (own / "jump" / "broken.mp4").write_text("not a video\n")
    write_video(own / "jump" / "short.mp4", frames[:3], fps=8)
    (tmp / "flat").mkdir()
    write_video(tmp / "flat" / "a.mp4", frames, fps=8)
    (tmp / "empty_action" / "wave").mkdir(parents=True)
    (tmp / "bad.csv").write_text("path,action\nwave/a.mp4\n")
    (tmp / "only_bad" / "wave").mkdir(parents=True)
    (tmp / "only_bad" / "wave" / "x.mp4").write_text("not a video\n")
    (tmp / "penn_empty" / "frames").mkdir(parents=True)
    (tmp / "penn_empty" / "labels").mkdir()

    def predict(image: str, *extra: str) -> list[str]:
        return ["predict", "--image", image, "--action", "squats", "--frames", "4", *extra]

    def evaluate(data_dir: str, *extra: str) -> list[str]:
        return ["evaluate", "--checkpoint", "synth", "--data", data_dir, "--out", str(tmp / "e"),
                *extra]  # fmt: skip

    def prepare(source: str, src: Path, *extra: str) -> list[str]:
        return ["data", "prepare", source, "--src", str(src), "--out", str(tmp / "prepared"),
                "--size", "32", "--overwrite", *extra]  # fmt: skip

    def calibrate(data_dir: str) -> list[str]:
        return ["calibrate", "--checkpoint", "synth", "--data", data_dir, "--out",
                str(tmp / "calibrated"), "--overwrite"]  # fmt: skip

    p = predict
    return [
        ("prepare", "bad and short videos among good", prepare("folder", own), True),
        ("prepare", "no action subfolders", prepare("folder", tmp / "flat"), False),
        ("prepare", "action folder without videos", prepare("folder", tmp / "empty_action"), False),
        ("prepare", "CSV row without action", prepare("folder", tmp / "bad.csv"), False),
        ("prepare", "every video unreadable", prepare("folder", tmp / "only_bad"), False),
        ("prepare", "not the Penn Action layout", prepare("penn", tmp / "flat"), False),
        ("prepare", "Penn layout, none of its videos", prepare("penn", tmp / "penn_empty"), False),
        ("prepare", "not the FOMM layout", prepare("fomm", tmp / "flat"), False),
        ("image", "RGB PNG", p(img, "--out", out), True),
        ("image", "RGBA PNG", p(str(_image(tmp / "rgba.png", "RGBA")), "--out", out), True),
        ("image", "greyscale", p(str(_image(tmp / "l.png", "L")), "--out", out), True),
        ("image", "palette", p(str(_image(tmp / "p.png", "P")), "--out", out), True),
        ("image", "16-bit PNG", p(str(_image(tmp / "i16.png", "I;16")), "--out", out), True),
        ("image", "CMYK JPEG", p(str(_image(tmp / "cmyk.jpg", "CMYK")), "--out", out), True),
        (
            "image",
            "EXIF-rotated JPEG",
            p(str(_image(tmp / "rot.jpg", "RGB", exif_rotate=True)), "--out", out),
            True,
        ),
        ("image", "1×1 PNG", p(str(_image(tmp / "one.png", "RGB", size=1)), "--out", out), True),
        ("image", "8000×8000 (over the limit)", p(str(tmp / "huge.png"), "--out", out), False),
        ("image", "random bytes", p(str(tmp / "noise.png"), "--out", out), False),
        ("image", "missing file", p(str(tmp / "nope.png"), "--out", out), False),
        ("image", "a folder", p(str(tmp / "folder"), "--out", out), False),
        (
            "video",
            "truncated MP4",
            ["animate", "--image", img, "--driving", str(truncated), "--out", out],
            False,
        ),
        (
            "video",
            "empty file",
            ["animate", "--image", img, "--driving", str(tmp / "empty.mp4"), "--out", out],
            False,
        ),
        (
            "video",
            "not a video",
            ["animate", "--image", img, "--driving", str(tmp / "text.mp4"), "--out", out],
            False,
        ),
        ("path", "output folder missing", p(img, "--out", str(tmp / "no" / "x.gif")), False),
        ("path", "unsupported extension", p(img, "--out", str(tmp / "x.txt")), False),
        ("path", "unwritable folder (/proc)", p(img, "--out", "/proc/x.gif"), False),
        ("path", "output is a folder", p(img, "--out", str(tmp / "folder")), False),
        ("config", "unknown key", ["train", "stage1", "optim.nope=1", "--max-steps", "0"], False),
        (
            "config",
            "wrong type",
            ["train", "stage1", "optim.steps=many", "--max-steps", "0"],
            False,
        ),
        ("config", "invalid YAML", ["train", "stage1", "--config", str(tmp / "bad.yaml")], False),
        ("config", "missing file", ["train", "stage1", "--config", str(tmp / "no.yaml")], False),
        (
            "checkpoint",
            "not a checkpoint",
            p(img, "--out", out, "--checkpoint", str(tmp / "notckpt")),
            False,
        ),
        (
            "checkpoint",
            "truncated weights",
            p(img, "--out", out, "--checkpoint", str(trunc_ckpt)),
            False,
        ),
        (
            "checkpoint",
            "wrong kind",
            p(img, "--out", out, "--checkpoint", "synth-classifier"),
            False,
        ),
        (
            "action",
            "unknown name",
            ["predict", "--image", img, "--action", "sqauts", "--out", out],
            False,
        ),
        (
            "action",
            "index out of range",
            ["predict", "--image", img, "--action", "99", "--out", out],
            False,
        ),
        ("frames", "0 frames", p(img, "--out", out, "--frames", "0"), False),
        ("frames", "absurdly many", p(img, "--out", out, "--frames", "10000000"), False),
        ("motion", "negative motion scale", p(img, "--out", out, "--motion-scale", "-1"), False),
        ("calibrate", "dataset without pseudo-labels", calibrate(data), False),
        ("calibrate", "dataset of other actions", calibrate(str(tmp / "prepared")), False),
        ("calibrate", "not a dataset", calibrate(str(tmp / "folder")), False),
        ("evaluate", "not a dataset", evaluate(str(tmp / "folder")), False),
        ("evaluate", "missing split", evaluate(data, "--split", "val"), False),
        (
            "evaluate",
            "bad I3D file",
            evaluate(data, "--i3d-weights", str(tmp / "bad_i3d.pt")),
            False,
        ),
    ]


def missing_extras(tmp: Path) -> list[tuple[str, str, list[str], str]]:
    """(group, case, keyvid arguments, the module to hide): each fails with one line."""
    src = tmp / "penn_some"
    for video_id in ("0001", "1150", "1858"):  # in the split; their labels are never read
        (src / "frames" / video_id).mkdir(parents=True)
        (src / "labels").mkdir(exist_ok=True)
        (src / "labels" / f"{video_id}.mat").write_bytes(b"")
    out = str(tmp / "extra_out")
    return [
        (
            "extra",
            "penn without scipy",
            ["data", "prepare", "penn", "--src", str(src), "--out", out],
            "scipy",
        ),
        ("extra", "web without gradio", ["serve"], "gradio"),
        ("extra", "onnx without onnx", ["export", "synth", out, "--format", "onnx"], "onnx"),
    ]


def without(module: str, folder: Path) -> dict[str, str]:
    """An environment in which ``import module`` fails as if it were not installed."""
    stub = folder / f"without-{module}"
    (stub / module).mkdir(parents=True, exist_ok=True)
    (stub / module / "__init__.py").write_text(
        f"raise ModuleNotFoundError(\"No module named '{module}'\", name={module!r})\n"
    )
    path = os.pathsep.join(p for p in (str(stub), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def run_case(args: list[str], cwd: Path, hide: str | None = None) -> tuple[int, str, bool]:
    with tempfile.TemporaryDirectory() as stubs:
        proc = subprocess.run(
            [sys.executable, "-m", "keyvid", *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=300,
            env=without(hide, Path(stubs)) if hide else None,
        )
    text = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
    first = next((line for line in text if line.startswith("error:")), text[-1] if text else "")
    return proc.returncode, first[:160], "Traceback" in proc.stderr


def main(run: Callable = run_case) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        runs = [(*c, None) for c in cases(tmp)]
        runs += [(g, case, args, False, hide) for g, case, args, hide in missing_extras(tmp)]
        for group, case, args, should_work, hide in runs:
            status, message, traceback = run(args, Path.cwd(), hide=hide)
            handled = not traceback and (status == 0 if should_work else status == 2)
            rows.append(
                {
                    "input": group,
                    "case": case,
                    "exit": status,
                    "handled": handled,
                    "message": message,
                }
            )
    print_table(rows, ["input", "case", "exit", "handled", "message"])
    print(f"{sum(r['handled'] for r in rows)} / {len(rows)} handled")
    write_result("bad_inputs", rows)


if __name__ == "__main__":
    main()
