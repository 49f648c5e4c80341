"""Screenshots of ``keyvid serve`` in each state, for the README.

    python -m docs.serve_screenshots [--checkpoint synth] [--out docs]

Serves the page on a free loopback port and clicks through it in headless Chromium as
the browser test of tests/test_web.py does (tests/web_browser.py: Debian's chromium and
chromium-driver, and selenium from the dev extra; ``.ci/install-browser`` installs the
first two). Writes, as palette PNGs of the whole page:

    serve-predict.png   an unseen actor + an action -> the video
    serve-animate.png   the actor + a driving video (another actor) -> the video
    serve-edit.png      keypoints detected, one dragged, one placed by click, rendered
"""

from __future__ import annotations

import argparse
import socket
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from tests import web_browser

from keyvid.data.actions import PENN_ACTIONS
from keyvid.data.synth import render_video
from keyvid.io import write_video
from keyvid.web import example_images, serve

DOCS = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shrink(path: Path) -> Path:
    """The screenshot as a 256-colour PNG (a page of flat colours: a few times smaller)."""
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="synth")
    parser.add_argument("--out", type=Path, default=DOCS)
    parser.add_argument("--action", default="jumping_jacks", help="Predict's action")
    parser.add_argument("--driving", default="golf_swing", help="the driving video's action")
    args = parser.parse_args(argv)
    if reason := web_browser.missing():
        raise SystemExit(f"error: the screenshots cannot be taken: {reason}")
    folder = Path(tempfile.mkdtemp(prefix="keyvid-shots-"))
    image = example_images(1)[0]
    frames, _ = render_video(
        PENN_ACTIONS.index(args.driving), np.random.SeedSequence(2024), size=64, frames=32
    )
    driving = write_video(folder / f"{args.driving}.mp4", frames, fps=8)
    port = free_port()
    app = serve(args.checkpoint, port=port, block=False)
    shots = {name: args.out / f"serve-{name}.png" for name in ("predict", "animate", "edit")}
    try:
        with web_browser.chrome(1280, 900) as driver:
            page = web_browser.Page(driver, f"http://127.0.0.1:{port}/")
            page.open()
            page.predict(image, args.action, shot=shots["predict"])
            page.animate(image, driving, shot=shots["animate"])
            table = page.detect(image)
            last = len(table) - 1  # drawn on top of the others: free to grab
            x, y = table[last][1:]
            page.move_keypoint(last, (max(-0.9, x - 0.35), y), drag=True)
            page.move_keypoint(0, (min(0.9, table[0][1] + 0.3), table[0][2] - 0.2), drag=False)
            page.render(shot=shots["edit"])
    finally:
        app.close()
    for shot in shots.values():
        print(f"{shrink(shot)}: {shot.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
