"""`keyvid serve`: a real server on a free localhost port, called over HTTP with
gradio_client, and loaded by a real headless browser."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio", reason="gradio is in the dev and web extras")

from gradio_client import Client, handle_file
from gradio_client.utils import QueueError, Status

from keyvid.data.format import PreparedDataset
from keyvid.errors import KeyvidError
from keyvid.io import read_image, read_video, write_image, write_video
from keyvid.pipeline.generate import Pipeline
from keyvid.web import VIEW_SCALE, serve
from tests.pipeline.tiny import IMAGE_SIZE, NUM_KEYPOINTS, build_tiny_models

SHOWN = IMAGE_SIZE * VIEW_SCALE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web")
    models = build_tiny_models(folder)
    frames = np.array(PreparedDataset(models.data, "test").frames(0))
    image = write_image(folder / "actor.png", frames[0])
    driving = write_video(folder / "driving.mp4", frames, fps=8)
    port = free_port()
    app = serve(str(models.pipeline), port=port, block=False)
    url = f"http://127.0.0.1:{port}/"
    yield url, Client(url, verbose=False), image, driving, folder
    app.close()


def test_predict_over_http_is_deterministic(server):
    _, client, image, _, _ = server
    gif, files = client.predict(handle_file(str(image)), "squats", 5, 2, 7, False,
                                api_name="/predict")  # fmt: skip
    video = read_video(gif)
    assert video.shape == (
        6,
        SHOWN + 4,
        2 * SHOWN + 6,
        3,
    )  # input + 5 frames, 2 samples side by side
    assert sorted(f.rsplit(".", 1)[1] for f in files) == ["gif", "json", "mp4"]
    again, _ = client.predict(handle_file(str(image)), "squats", 5, 2, 7, False,
                              api_name="/predict")  # fmt: skip
    np.testing.assert_array_equal(read_video(again), video)


def test_animate_over_http(server):
    _, client, image, driving, _ = server
    gif = client.predict(handle_file(str(image)), handle_file(str(driving)), False,
                         api_name="/animate")  # fmt: skip
    assert read_video(gif).shape[1:] == (SHOWN, SHOWN, 3)
    assert len(read_video(gif)) == len(read_video(driving))


def test_detect_then_edit_over_http(server):
    _, client, image, _, _ = server
    view, table = client.predict(handle_file(str(image)), api_name="/detect")
    assert read_data_url(view["image"]).shape == (SHOWN, SHOWN, 3) and view["size"] == SHOWN
    rows = table["data"]
    assert len(rows) == NUM_KEYPOINTS == len(view["points"])
    for (k, x, y), point in zip(rows, view["points"], strict=True):  # pixels of the view
        pixel = (np.array([x, y]) + 1) / 2 * (SHOWN - 1)
        assert point["k"] == k and np.allclose([point["x"], point["y"]], pixel, atol=0.01)
    moved = {"headers": table["headers"], "data": [[i, x + 0.3, y] for i, x, y in rows]}
    edited = client.predict(handle_file(str(image)), moved, api_name="/edit")
    assert read_image(edited).shape == (SHOWN, SHOWN, 3)


def read_data_url(url: str) -> np.ndarray:
    import base64
    import io

    from PIL import Image

    head, data = url.split(",", 1)
    assert head == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def test_bad_input_is_a_message_and_the_server_keeps_serving(server):
    _, client, image, _, folder = server
    text = folder / "notes.png"
    text.write_text("not an image")
    with pytest.raises(Exception, match=r"preprocess input component at index 0 .* `image`"):
        client.predict(handle_file(str(text)), "squats", 2, 1, 0, False, api_name="/predict")
    short = {"headers": ["keypoint", "x", "y"], "data": [[0, 0.1, 0.2]]}
    with pytest.raises(Exception, match=f"the model has {NUM_KEYPOINTS} keypoints"):
        client.predict(handle_file(str(image)), short, api_name="/edit")
    with pytest.raises(Exception, match="driving video"):
        client.predict(handle_file(str(image)), None, False, api_name="/animate")
    notes = folder / "notes.mp4"
    notes.write_text("not a video")
    with pytest.raises(Exception, match="cannot read video"):
        client.predict(handle_file(str(image)), handle_file(str(notes)), False,
                       api_name="/animate")  # fmt: skip
    with pytest.raises(Exception, match="dance"):
        client.predict(handle_file(str(image)), "dance", 2, 1, 0, False, api_name="/predict")
    gif, _ = client.predict(handle_file(str(image)), "squats", 2, 1, 0, False, api_name="/predict")
    assert len(read_video(gif)) == 3


def test_a_headless_browser_renders_the_three_tabs(server, tmp_path):
    url = server[0]
    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome")
                    if shutil.which(b)), None)  # fmt: skip
    if browser is None:
        pytest.skip("no chromium: .ci/install-browser installs it where apt-get works")
    shot, dom = tmp_path / "page.png", tmp_path / "page.html"
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--virtual-time-budget=15000", "--window-size=1280,1000"]  # fmt: skip
    subprocess.run([*common, f"--screenshot={shot}", url], capture_output=True, timeout=180)
    html = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=180)
    assert shot.is_file() and read_image(shot).shape[:2] == (1000, 1280)
    for tab in ("Predict", "Animate", "Edit keypoints"):
        assert tab in html.stdout
    dom.write_text(html.stdout)


def test_a_person_clicks_through_the_three_tabs_in_chromium(server):
    """Selenium drives Debian's chromium (+ chromium-driver) through the page as a person
    would: Predict, Animate, and Edit keypoints with a drag, a click and Render. Asserts on
    the DOM (an image appears, the keypoint table changes), never on pixels."""
    from tests import web_browser

    if reason := web_browser.missing():
        pytest.skip(f"the selenium browser test cannot run: {reason}")
    url, client, image, driving, _ = server
    with web_browser.chrome() as driver:
        page = web_browser.Page(driver, url)
        page.open()
        assert page.predict(image, "squats").endswith(".gif")
        assert page.animate(image, driving).endswith(".gif")
        table = page.detect(image)
        assert [row[0] for row in table] == list(range(NUM_KEYPOINTS))
        _, scale, size = page.view()
        assert size == SHOWN and scale > 1  # the view is drawn larger than its pixels
        # Drag the last keypoint (its handle is drawn on top: the untrained detector puts
        # them all near the centre) to (-0.5, 0.5): the table says where it was dropped.
        last = NUM_KEYPOINTS - 1
        dragged = page.move_keypoint(last, (-0.5, 0.5), drag=True)
        tolerance = 2 / scale * 2 / (SHOWN - 1)  # 2 CSS pixels, in normalised units
        assert dragged[last][1:] == pytest.approx([-0.5, 0.5], abs=tolerance)
        assert dragged[:last] == table[:last]
        # Choose keypoint 1 by number, click where it should go: on a spot no handle covers.
        spots = [(0.5, -0.5), (-0.5, -0.5), (0.5, 0.5), (0.0, -0.8)]
        free = [s for s in spots if all(abs(s[0] - x) + abs(s[1] - y) > 0.2 for _, x, y in dragged)]
        placed = page.move_keypoint(1, free[0], drag=False)
        assert placed[1][1:] == pytest.approx(list(free[0]), abs=tolerance)
        assert placed[:1] + placed[2:] == dragged[:1] + dragged[2:]
        rendered = page.render()  # posed as the table says: the API's answer for that table
        moved = {"headers": ["keypoint", "x", "y"], "data": placed}
        expected = client.predict(handle_file(str(image)), moved, api_name="/edit")
        with urllib.request.urlopen(rendered, timeout=30) as response:
            assert response.read() == Path(expected).read_bytes()


def test_no_file_outside_the_outputs_is_served(server):
    import urllib.error
    import urllib.request

    url = server[0]
    for path in (
        "gradio_api/file=/etc/passwd",
        "file=/etc/passwd",
        "gradio_api/file=../../etc/passwd",
    ):
        try:
            with urllib.request.urlopen(url + path, timeout=30) as response:
                body = response.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            assert e.code in (403, 404), path
            continue
        assert "root:" not in body, path


def test_a_click_or_a_drag_on_the_view_moves_a_keypoint(server):
    from types import SimpleNamespace

    from keyvid.web import WebDemo

    _, _, image, _, folder = server
    demo = WebDemo(str(folder / "pipeline"))
    view, table = demo.detect(str(image))
    assert view["size"] == SHOWN and len(table) == NUM_KEYPOINTS
    click = SimpleNamespace(index=(SHOWN - 1, 0))  # the top-right pixel of the shown image
    view, moved = demo.move(str(image), table, 2, click)
    assert moved[2][1:] == [1.0, -1.0] and moved[:2] == table[:2] and moved[3:] == table[3:]
    assert (view["points"][2]["x"], view["points"][2]["y"]) == (SHOWN - 1, 0)
    drag = SimpleNamespace(keypoint=1, index=((SHOWN - 1) / 2, SHOWN - 1))  # to the bottom middle
    _, dragged = demo.drag(str(image), moved, drag)
    assert dragged[1][1:] == [0.0, 1.0] and dragged[2:] == moved[2:]
    points = demo.view(str(image), dragged)["points"]  # the table edited by hand, shown
    assert [(p["x"], p["y"]) for p in points[1:3]] == [((SHOWN - 1) / 2, SHOWN - 1), (SHOWN - 1, 0)]


LIMIT = 4  # --max-frames of the limited server: fewer than the driving video's 6 frames


@pytest.fixture(scope="module")
def limited(server):
    """A second server over the same tiny models: 1 request at a time, 1 waiting, 4 frames."""
    folder = server[4]
    port = free_port()
    app = serve(str(folder / "pipeline"), port=port, block=False, concurrency=1, queue_size=1,
                max_frames=LIMIT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    yield url, Client(url, verbose=False), server[2], server[3]
    app.close()


def test_request_limits_are_clear_errors_and_the_page_respects_them(limited):
    url, client, image, driving = limited
    flag = r"on this server \(keyvid serve --max-frames\)"
    with pytest.raises(Exception, match=f"Frames must be a whole number from 1 to {LIMIT} {flag}"):
        client.predict(handle_file(str(image)), "squats", LIMIT + 1, 1, 0, False,
                       api_name="/predict")  # fmt: skip
    with pytest.raises(Exception, match="Samples must be a whole number from 1 to 4"):
        client.predict(handle_file(str(image)), "squats", 2, 5, 0, False, api_name="/predict")
    with pytest.raises(Exception, match=f"driving video is longer than {LIMIT} frames"):
        client.predict(handle_file(str(image)), handle_file(str(driving)), False,
                       api_name="/animate")  # fmt: skip
    gif, _ = client.predict(handle_file(str(image)), "squats", LIMIT, 1, 0, False,
                            api_name="/predict")  # fmt: skip
    assert len(read_video(gif)) == LIMIT + 1
    with urllib.request.urlopen(url + "config", timeout=30) as response:
        config = json.load(response)
    sliders = {c["props"].get("label"): c["props"] for c in config["components"]
               if c.get("type") == "slider"}  # fmt: skip
    assert sliders["Frames"]["maximum"] == LIMIT and sliders["Samples"]["maximum"] == 4


def test_bad_server_limits_are_refused_before_loading_the_model():
    for limits, name in (({"concurrency": 0}, "concurrency"), ({"queue_size": -1}, "queue size"),
                         ({"max_frames": 10**6}, "max_frames"), ({"port": 0}, "port")):  # fmt: skip
        with pytest.raises(KeyvidError, match=name):
            serve("no-such-checkpoint", block=False, **limits)


def test_cli_defaults_are_the_web_defaults():
    import argparse

    from keyvid import web
    from keyvid.cli import serve as serve_cli

    commands = argparse.ArgumentParser().add_subparsers()
    serve_cli.add_parser(commands)
    args = commands.choices["serve"].parse_args([])
    limits = (args.concurrency, args.queue_size, args.max_frames)
    assert limits == (web.CONCURRENCY, web.QUEUE_SIZE, web.MAX_REQUEST_FRAMES)


def test_a_burst_beyond_the_queue_is_refused_and_the_server_keeps_serving(limited, monkeypatch):
    """One request runs (held at the model until the burst is over), one waits and sees its
    place in the queue, every other one of the burst is refused: no other error, no crash."""
    _, client, image, _ = limited
    entered, release = threading.Event(), threading.Event()
    generate = Pipeline.__call__

    def held(self, *args, **kwargs):
        entered.set()
        release.wait(timeout=60)
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "__call__", held)
    request = (handle_file(str(image)), "squats", 2, 1, 0, False)
    try:
        running = client.submit(*request, api_name="/predict")
        assert entered.wait(timeout=60)
        waiting = client.submit(*request, api_name="/predict")
        deadline = time.monotonic() + 60
        while (status := waiting.status()).code != Status.IN_QUEUE:
            assert time.monotonic() < deadline and not waiting.done(), status
            time.sleep(0.05)
        assert (status.rank, status.queue_size) == (0, 1)  # the page shows "queue: 1/1"
        burst = [client.submit(*request, api_name="/predict") for _ in range(6)]
        outcomes = []
        for job in burst:
            try:
                job.result(timeout=60)
                outcomes.append("answered")
            except QueueError as e:
                assert "Queue is full" in str(e)
                outcomes.append("refused")
    finally:
        release.set()
    answered = [len(read_video(job.result(timeout=60)[0])) for job in (running, waiting)]
    assert answered == [3, 3] and outcomes == ["refused"] * len(burst)
    gif, _ = client.predict(*request, api_name="/predict")  # still serving
    assert len(read_video(gif)) == 3
