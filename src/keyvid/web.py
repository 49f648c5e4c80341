"""``keyvid serve``: the Python API as a Gradio web page (predict, animate, edit keypoints).

Every tab calls ``Pipeline`` and nothing else; its outputs are written under one
temporary folder of the server, the only files it serves. Requests that run the model
share one queue: ``concurrency`` of them run at once (default 1: one model, and one
request already uses every core), at most ``queue_size`` wait (the page shows each its
position), and one more is refused ("Queue is full" from the API, "busy, try again" on
the page) rather than piling up. Each request is limited to ``max_frames`` generated or
driving frames and ``MAX_SAMPLES`` samples. Bad input (a file that is not an image or a
video, keypoints of the wrong count, a request over a limit) becomes a message on the
page or an API error, and the server keeps serving.
"""

from __future__ import annotations

import base64
import io
import os
import tempfile
import uuid
from pathlib import Path

# Nothing leaves the machine: no usage analytics (Gradio sends them unless told not to).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
import numpy as np
from PIL import Image

from keyvid.errors import KeyvidError
from keyvid.io import read_image, read_video, write_image, write_video
from keyvid.pipeline.generate import MAX_FRAMES, Pipeline, prepare_image
from keyvid.pipeline.outputs import render_videos, write_keypoints_json
from keyvid.viz import keypoint_colors, upscale, video_grid

MAX_UPLOAD = "20mb"  # an image or a short clip; larger uploads are refused by the server
VIEW_SCALE = 4  # 64×64 frames shown at 256×256
# Server limits (``keyvid serve`` flags). One request already uses every core of a CPU,
# so by default requests run one at a time and the rest wait in a bounded queue.
CONCURRENCY = 1  # requests that run the model at once
QUEUE_SIZE = 16  # requests waiting beyond the running ones; one more is refused
MAX_REQUEST_FRAMES = 128  # generated frames, or driving-video frames, per request
MAX_SAMPLES = 4  # samples per Predict request
MODEL_QUEUE = "model"  # the one concurrency group of every event that runs the model


class WebDemo:
    """The functions behind the page, usable (and tested) without a browser."""

    def __init__(self, checkpoint: str = "synth", *, max_frames: int = MAX_REQUEST_FRAMES) -> None:
        _check_limit("max_frames", max_frames, MAX_FRAMES)
        self.max_frames = max_frames
        self.pipe = Pipeline.from_pretrained(checkpoint)
        self.outputs = Path(tempfile.mkdtemp(prefix="keyvid-serve-"))

    def _path(self, suffix: str) -> Path:
        return self.outputs / f"{uuid.uuid4().hex}{suffix}"

    # Gradio injects its progress tracker where a parameter defaults to gr.Progress().
    def predict(
        self, image, action, frames, samples, seed, overlay, guidance=None,
        progress=gr.Progress(),  # noqa: B008
    ):  # fmt: skip
        """Image + action -> (GIF of the samples side by side, [GIF, MP4, keypoints JSON]).

        ``guidance`` is read only for a diffusion generator (its slider is hidden otherwise).
        """
        image = _require_image(image)
        frames = _request_count("Frames", frames, self.max_frames, _FRAMES_FLAG)
        samples = _request_count("Samples", samples, MAX_SAMPLES)
        progress(0.1, desc="generating")
        sampling = {"frames": frames, "samples": samples, "seed": int(seed)}
        if self.pipe.takes_guidance and guidance is not None:
            sampling["guidance"] = float(guidance)
        try:
            act = action if self.pipe.uses_action else None
            result = self.pipe(image, act, **sampling)
        except KeyvidError as e:
            raise gr.Error(str(e)) from None
        progress(0.8, desc="writing")
        videos = render_videos(result, overlay=bool(overlay), scale=VIEW_SCALE)
        grid = video_grid(list(videos), ncols=len(videos))
        gif = write_video(self._path(".gif"), grid, fps=8)
        mp4 = write_video(self._path(".mp4"), grid, fps=8)
        keypoints = write_keypoints_json(result.keypoints, self._path(".json"), action=act)
        return str(gif), [str(gif), str(mp4), str(keypoints)]

    def animate(self, image, driving, overlay, progress=gr.Progress()):  # noqa: B008
        """Image + driving video file -> GIF of the image moving as the video's object."""
        image = _require_image(image)
        if not driving:
            raise gr.Error("upload a driving video (mp4, gif, mov, ...)")
        progress(0.1, desc="reading the driving video")
        try:
            frames = read_video(driving, max_frames=self.max_frames + 1)
            if len(frames) > self.max_frames:
                raise gr.Error(
                    f"the driving video is longer than {self.max_frames} frames, the limit "
                    f"of a request on this server{_FRAMES_FLAG}: trim it"
                )
            result = self.pipe.animate(image, frames)
        except KeyvidError as e:
            raise gr.Error(str(e)) from None
        video = render_videos(result, overlay=bool(overlay), scale=VIEW_SCALE)[0]
        return str(write_video(self._path(".gif"), video, fps=8))

    def detect(self, image):
        """Image -> (the Keypoints view: the image and its numbered keypoints, table of
        their coordinates). The view is ``{"image": PNG data URL, "size": its pixels,
        "points": [{"k", "x", "y", "color"}]}``, ``x, y`` in pixels of that image."""
        image = _require_image(image)
        points = self.pipe.detect(image)
        return self._view(image, points), _table(points)

    def move(self, image, table, index, event: gr.SelectData):
        """A click on the Keypoints view (pixel ``event.index``) puts keypoint ``index`` there."""
        image = _require_image(image)
        points = _points(table, self.pipe.stage1.detector.config.num_keypoints)
        size = self.pipe.image_size * VIEW_SCALE
        x, y = event.index  # pixel of the shown (upscaled) overlay
        index = int(index)
        if not 0 <= index < len(points):
            raise gr.Error(f"keypoint index must be 0 to {len(points) - 1}")
        points[index] = (2 * x / (size - 1) - 1, 2 * y / (size - 1) - 1)
        return self._view(image, points), _table(points)

    def drag(self, image, table, event: gr.EventData):
        """Keypoint ``event.keypoint`` dragged on the Keypoints view to pixel ``event.index``."""
        return self.move(image, table, event.keypoint, event)

    def view(self, image, table):
        """The Keypoints view of the table as edited by hand."""
        image = _require_image(image)
        return self._view(image, _points(table, self.pipe.stage1.detector.config.num_keypoints))

    def edit(self, image, table):
        """Image + edited keypoint table -> the image posed as the table says."""
        image = _require_image(image)
        points = _points(table, self.pipe.stage1.detector.config.num_keypoints)
        try:
            result = self.pipe.edit(image, points)
        except KeyvidError as e:
            raise gr.Error(str(e)) from None
        frame = upscale(result.frames[0, 1:], VIEW_SCALE)[0]
        return str(write_image(self._path(".png"), frame))

    def _view(self, image, points: np.ndarray) -> dict:
        x = prepare_image(image, self.pipe.image_size)[0].permute(1, 2, 0).numpy()
        frame = upscale((x * 255).round().astype(np.uint8)[None], VIEW_SCALE)[0]
        png = io.BytesIO()
        Image.fromarray(frame).save(png, format="PNG")
        size = frame.shape[0]
        pixels = (points + 1) / 2 * (size - 1)  # keyvid.coords: -1/+1 = first/last pixel centre
        colors = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in keypoint_colors(len(points)).tolist()]
        return {
            "image": "data:image/png;base64," + base64.b64encode(png.getvalue()).decode(),
            "size": size,
            "points": [
                {"k": k, "x": round(float(px), 2), "y": round(float(py), 2), "color": color}
                for k, ((px, py), color) in enumerate(zip(pixels, colors, strict=True))
            ],
        }


_FRAMES_FLAG = " (keyvid serve --max-frames)"

# The Keypoints view of the Edit tab: a gr.HTML block (no frontend build) that draws
# ``WebDemo._view``'s image with its keypoints as SVG handles. Dragging a handle sends
# "drag" {keypoint, index: pixel}; a click elsewhere on the image sends "select" {index:
# pixel}, as a click on a gr.Image does. Python moves the keypoint and answers with the
# view and the table, so the table stays the one source of the keypoints.
_VIEW_HTML = """${value ? `<div class="kp-view"><img src="${value.image}" alt="the image"
 draggable="false"><svg viewBox="-0.5 -0.5 ${value.size} ${value.size}">${value.points.map(
 (p) => `<g class="kp" data-k="${p.k}" transform="translate(${p.x} ${p.y})"><circle
 r="${value.size / 40}" fill="${p.color}"/><text x="${value.size / 32}" y="${-value.size / 40}"
 font-size="${value.size / 16}">${p.k}</text></g>`).join("")}</svg></div>`
 : `<p class="kp-empty">Upload an image and press Detect keypoints.</p>`}"""
_VIEW_CSS = """
.kp-view { position: relative; width: 100%; max-width: 512px; line-height: 0; user-select: none; }
.kp-view img { width: 100%; image-rendering: pixelated; }
.kp-view svg { position: absolute; inset: 0; width: 100%; height: 100%; overflow: visible;
  touch-action: none; cursor: crosshair; }
.kp { cursor: grab; }
.kp circle { stroke: #141414; stroke-width: 1.5px; vector-effect: non-scaling-stroke; }
.kp text { fill: #fff; stroke: #141414; stroke-width: 3px; paint-order: stroke;
  font-family: sans-serif; font-weight: bold; }
.kp-empty { padding: 2em 1em; color: var(--body-text-color-subdued); }
"""
_VIEW_JS = """
let drag = null;
const clamp = (v) => Math.min(props.value.size - 1, Math.max(0, v));
const pixel = (svg, e) => {  // the image pixel under the pointer
  const box = svg.getBoundingClientRect(), size = props.value.size;
  return [((e.clientX - box.left) / box.width) * size - 0.5,
          ((e.clientY - box.top) / box.height) * size - 0.5];
};
const target = (e) => {  // where the pointer puts the dragged keypoint, or the clicked pixel
  const [x, y] = pixel(drag.svg, e);
  return drag.handle ? [clamp(drag.at[0] + x - drag.from[0]), clamp(drag.at[1] + y - drag.from[1])]
                     : [clamp(x), clamp(y)];
};
element.addEventListener("pointerdown", (e) => {
  const svg = e.target.closest("svg");
  if (!svg || !props.value || e.button !== 0) return;
  e.preventDefault();
  svg.setPointerCapture(e.pointerId);
  const handle = e.target.closest(".kp"), k = handle ? Number(handle.dataset.k) : null;
  const point = handle ? props.value.points[k] : null;
  drag = { svg, handle, k, at: point && [point.x, point.y], from: pixel(svg, e), moved: false };
});
element.addEventListener("pointermove", (e) => {
  if (!drag || !drag.handle) return;
  const [x, y] = target(e);
  drag.handle.setAttribute("transform", `translate(${x} ${y})`);
  drag.moved = true;
});
element.addEventListener("pointerup", (e) => {
  if (!drag) return;
  const index = target(e), { handle, k, moved } = drag;
  drag = null;
  if (!handle) trigger("select", { index, value: null });
  else if (moved) trigger("drag", { keypoint: k, index, value: null });
});
element.addEventListener("pointercancel", () => { drag = null; });
"""


def _check_limit(name: str, value: int, maximum: int) -> None:
    """A server setting: a whole number from 1 to ``maximum``, or a KeyvidError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise KeyvidError(f"{name} must be a whole number from 1 to {maximum}, got {value!r}")


def _request_count(label: str, value, maximum: int, flag: str = "") -> int:
    """A count of a request (from the page or the API), checked against the server's limit."""
    try:
        count = float(value)
    except (TypeError, ValueError):
        count = float("nan")
    if not (1 <= count <= maximum and count == int(count)):
        raise gr.Error(
            f"{label} must be a whole number from 1 to {maximum} on this server{flag}, "
            f"got {value!r}"
        )
    return int(count)


def _count_slider(minimum: int, maximum: int, *, value: int, label: str, flag: str = ""):
    """A whole-number slider whose out-of-range value (sent through the API; the page
    cannot) is refused with a message naming it and the server's limit, rather than
    Gradio's bare "Value 200 is greater than maximum value 128". The check wraps this one
    slider's ``preprocess``: a subclass of a Gradio component would make Gradio write a
    ``.pyi`` file next to this module on import."""
    slider = gr.Slider(minimum, maximum, value=value, step=1, label=label)
    bounded = slider.preprocess

    def preprocess(payload):
        _request_count(label, payload, maximum, flag)
        return bounded(payload)

    slider.preprocess = preprocess
    return slider


def _require_image(image) -> np.ndarray:
    """An uploaded file (read by keyvid, whose errors say what is wrong) or an array."""
    if image is None:
        raise gr.Error("upload an image first (PNG, JPEG, ...)")
    if isinstance(image, str | Path):
        try:
            return read_image(image)
        except KeyvidError as e:
            raise gr.Error(str(e)) from None
    array = np.asarray(image)
    if array.ndim not in (2, 3) or array.size == 0:
        raise gr.Error("that upload is not an image")
    return array


def _table(points: np.ndarray) -> list[list[float]]:
    return [[i, round(float(x), 4), round(float(y), 4)] for i, (x, y) in enumerate(points)]


def _points(table, count: int) -> np.ndarray:
    """The keypoint table (rows ``index, x, y``) back as (K, 2), checked."""
    rows = table.values.tolist() if hasattr(table, "values") else list(table or [])
    try:
        points = np.array([[float(r[1]), float(r[2])] for r in rows], dtype=np.float32)
    except (TypeError, ValueError, IndexError):
        raise gr.Error("every keypoint row needs numbers: index, x, y") from None
    if len(points) != count:
        raise gr.Error(f"the model has {count} keypoints; the table has {len(points)} rows")
    if not np.isfinite(points).all() or np.abs(points).max() > 4:
        raise gr.Error("keypoints must be finite (x, y) in [-1, 1] (at most ±4)")
    return points


def _default_guidance(pipe: Pipeline) -> float:
    """The diffusion generator's configured guidance; 1 (none) for any other model."""
    return pipe.motion.config.diffusion.guidance if pipe.takes_guidance else 1.0


def build_app(
    checkpoint: str = "synth",
    examples: list[str] | None = None,
    *,
    concurrency: int = CONCURRENCY,
    queue_size: int = QUEUE_SIZE,
    max_frames: int = MAX_REQUEST_FRAMES,
) -> gr.Blocks:
    """The page: Predict, Animate and Edit keypoints tabs over one ``WebDemo``, and its
    queue: ``concurrency`` model requests at once, at most ``queue_size`` waiting (more
    are refused), ``max_frames`` frames a request (generated, or of a driving video)."""
    _check_limit("concurrency", concurrency, 64)
    _check_limit("queue size", queue_size, 10_000)
    demo = WebDemo(checkpoint, max_frames=max_frames)
    pipe = demo.pipe
    model = {"concurrency_id": MODEL_QUEUE}  # one queue for every request that runs the model
    with gr.Blocks(title="keyvid") as app:
        gr.Markdown(
            "# keyvid\nOne image + an action -> a video, through keypoints learned without "
            f"labels. Model: `{checkpoint}` ({pipe.image_size}×{pipe.image_size}). "
            f"This server runs {concurrency} request{'s' if concurrency > 1 else ''} at a "
            f"time; up to {queue_size} more wait in line (the output shows your place); "
            f"at most {max_frames} frames a request."
        )
        with gr.Tab("Predict"):
            with gr.Row():
                with gr.Column():
                    image = gr.Image(
                        label="Image", type="filepath", sources=["upload"], elem_id="predict-image"
                    )
                    action = gr.Dropdown(
                        list(pipe.actions), value=pipe.actions[0], label="Action",
                        visible=pipe.uses_action, elem_id="predict-action",
                    )  # fmt: skip
                    frames = _count_slider(
                        1, max_frames, value=min(32, max_frames), label="Frames", flag=_FRAMES_FLAG
                    )
                    samples = _count_slider(1, MAX_SAMPLES, value=1, label="Samples")
                    seed = gr.Number(0, precision=0, label="Seed")
                    overlay = gr.Checkbox(False, label="Show keypoints")
                    guidance = gr.Slider(
                        0, 10, value=_default_guidance(pipe), step=0.5,
                        label="Guidance (how strongly the motion follows the action)",
                        visible=pipe.takes_guidance,
                    )  # fmt: skip
                    run = gr.Button("Generate", variant="primary")
                with gr.Column():
                    video = gr.Image(label="Video (GIF)", type="filepath", elem_id="predict-video")
                    files = gr.File(
                        label="Download (GIF, MP4, keypoints JSON)", file_count="multiple"
                    )
            if examples:
                gr.Examples(examples, inputs=image)
            run.click(
                demo.predict, [image, action, frames, samples, seed, overlay, guidance],
                [video, files],
                api_name="predict", **model,
            )  # fmt: skip
        with gr.Tab("Animate"):
            with gr.Row():
                with gr.Column():
                    a_image = gr.Image(
                        label="Image", type="filepath", sources=["upload"], elem_id="animate-image"
                    )
                    driving = gr.File(
                        label="Driving video", file_types=["video", ".gif"],
                        elem_id="animate-driving",
                    )  # fmt: skip
                    a_overlay = gr.Checkbox(False, label="Show keypoints")
                    a_run = gr.Button("Animate", variant="primary")
                a_video = gr.Image(label="Video (GIF)", type="filepath", elem_id="animate-video")
            a_run.click(demo.animate, [a_image, driving, a_overlay], a_video,
                        api_name="animate", **model)  # fmt: skip
        with gr.Tab("Edit keypoints"):
            gr.Markdown(
                "Detect the keypoints, then move them: drag one on the image, or pick a keypoint "
                "number and click where it should go, or edit its x, y (in [-1, 1]) in the "
                "table. Render poses the "
                "image as the keypoints say (move them all to move the object, one to move a "
                "part, off the image to remove it)."
            )
            with gr.Row():
                with gr.Column():
                    e_image = gr.Image(
                        label="Image", type="filepath", sources=["upload"], elem_id="edit-image"
                    )
                    detect = gr.Button("Detect keypoints")
                    index = gr.Number(
                        0, precision=0, label="Keypoint to move on click", elem_id="edit-index"
                    )
                with gr.Column():
                    shown = gr.HTML(
                        None, label="Keypoints (drag them, or click to place the chosen one)",
                        show_label=True, container=True, html_template=_VIEW_HTML,
                        css_template=_VIEW_CSS, js_on_load=_VIEW_JS, apply_default_css=False,
                        elem_id="edit-keypoints",
                    )  # fmt: skip
                    table = gr.Dataframe(
                        headers=["keypoint", "x", "y"], datatype=["number"] * 3,
                        label="Keypoints", interactive=True, elem_id="edit-table",
                    )  # fmt: skip
                    render = gr.Button("Render", variant="primary")
                    edited = gr.Image(label="Edited", type="filepath", elem_id="edit-edited")
            detect.click(demo.detect, e_image, [shown, table], api_name="detect", **model)
            # Moving keypoints runs no model: no wait in its queue.
            shown.select(demo.move, [e_image, table, index], [shown, table])
            shown.drag(demo.drag, [e_image, table], [shown, table])
            table.input(demo.view, [e_image, table], shown)
            render.click(demo.edit, [e_image, table], edited, api_name="edit", **model)
    # A full queue answers HTTP 503: gradio_client raises QueueError("Queue is full! Please
    # try again."), the page says "This application is currently busy. Please try again."
    app.queue(default_concurrency_limit=concurrency, max_size=queue_size)
    return app


def serve(
    checkpoint: str = "synth",
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    examples: list[str] | None = None,
    block: bool = True,
    concurrency: int = CONCURRENCY,
    queue_size: int = QUEUE_SIZE,
    max_frames: int = MAX_REQUEST_FRAMES,
):
    """Start the server (localhost by default); returns the app (running, when not blocking).

    ``concurrency``, ``queue_size`` and ``max_frames`` are the limits of ``build_app``.
    """
    if not 0 < port < 65536:
        raise KeyvidError(f"port must be 1 to 65535, got {port}")
    app = build_app(
        checkpoint, examples, concurrency=concurrency, queue_size=queue_size, max_frames=max_frames
    )
    app.launch(
        server_name=host,
        server_port=port,
        max_file_size=MAX_UPLOAD,
        prevent_thread_lock=not block,
        show_error=True,
        quiet=not block,
    )
    return app


def example_images(count: int = 3, size: int = 64) -> list[str]:
    """A few unseen synthetic actors as PNG files, to try the page without an image."""
    from keyvid.data.synth import render_video

    folder = Path(tempfile.mkdtemp(prefix="keyvid-examples-"))
    paths = []
    for i in range(count):
        frames, _ = render_video(i * 3, np.random.SeedSequence(1000 + i), size=size, frames=1)
        paths.append(str(write_image(folder / f"actor{i}.png", frames[0])))
    return paths
