"""`keyvid serve`: a real server on a free localhost port, called over HTTP with
gradio_client, and loaded by a real headless browser."""

from __future__ import annotations

import shutil
import socket
import subprocess

import numpy as np
import pytest

pytest.importorskip("gradio", reason="gradio is in the dev and web extras")

from gradio_client import Client, handle_file

from keyvid.data.format import PreparedDataset
from keyvid.io import read_image, read_video, write_image, write_video
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
    shown, table = client.predict(handle_file(str(image)), api_name="/detect")
    assert read_image(shown).shape == (SHOWN, SHOWN, 3)
    rows = table["data"]
    assert len(rows) == NUM_KEYPOINTS
    moved = {"headers": table["headers"], "data": [[i, x + 0.3, y] for i, x, y in rows]}
    edited = client.predict(handle_file(str(image)), moved, api_name="/edit")
    assert read_image(edited).shape == (SHOWN, SHOWN, 3)


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


def test_a_click_on_the_overlay_moves_the_chosen_keypoint(server):
    from types import SimpleNamespace

    from keyvid.web import WebDemo

    _, _, image, _, folder = server
    demo = WebDemo(str(folder / "pipeline"))
    shown, table = demo.detect(str(image))
    assert shown.shape == (SHOWN, SHOWN, 3) and len(table) == NUM_KEYPOINTS
    click = SimpleNamespace(index=(SHOWN - 1, 0))  # the top-right pixel of the shown image
    _, moved = demo.move(str(image), table, 2, click)
    assert moved[2][1:] == [1.0, -1.0] and moved[:2] == table[:2] and moved[3:] == table[3:]
