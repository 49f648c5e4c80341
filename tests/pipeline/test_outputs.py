"""Videos and keypoints written from a pipeline stream: the files of the whole result, with
the frames rendered, drawn and encoded a chunk at a time."""

from __future__ import annotations

import json

import numpy as np
import pytest

from keyvid.cli import main
from keyvid.io import read_video, write_image, write_video
from keyvid.io import video as video_module
from keyvid.pipeline import generate
from keyvid.pipeline.outputs import (
    load_keypoints_json,
    render_videos,
    sample_paths,
    save_keypoints_json,
    save_videos,
)
from keyvid.viz import video_grid
from tests.pipeline.tiny import IMAGE_SIZE

S = IMAGE_SIZE
CALL = {"frames": 6, "samples": 3, "seed": 1}


def written_whole(result, out, *, grid, overlay, scale):
    """What save_videos wrote before it streamed: every frame in memory, one write each."""
    videos = render_videos(result, overlay=overlay, scale=scale)
    if grid:
        return [write_video(out, video_grid(list(videos), ncols=len(videos)))]
    return [write_video(p, v) for p, v in zip(sample_paths(out, len(videos)), videos, strict=True)]


@pytest.mark.parametrize(
    ("grid", "overlay", "scale"), [(False, False, 1), (True, False, 1), (True, True, 2)]
)
def test_a_streamed_gif_is_the_whole_one_byte_for_byte(
    pipe, image, tmp_path, monkeypatch, grid, overlay, scale
):
    monkeypatch.setattr(video_module, "_GIF_SEGMENT_FRAMES", 3)  # GIF segments end inside too
    stream = pipe.stream(image, "squats", chunk=2, **CALL)  # chunks of 2, 2, 2, 1 frames
    options = {"grid": grid, "overlay": overlay, "scale": scale}
    streamed = save_videos(stream, tmp_path / "streamed.gif", **options)
    whole = written_whole(pipe(image, "squats", **CALL), tmp_path / "whole.gif", **options)
    assert len(streamed) == len(whole) == (1 if grid else 3)
    for a, b in zip(streamed, whole, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    cell = S * scale
    size = (cell + 4, 3 * (cell + 2) + 2) if grid else (cell, cell)  # 2 px around cells
    assert read_video(streamed[0]).shape[:3] == (7, *size)


def test_a_streamed_mp4_is_the_whole_one(pipe, image, tmp_path, monkeypatch):
    stream = pipe.stream(image, "squats", chunk=2, **CALL)
    result = pipe(image, "squats", **CALL)
    # x264 here does not encode the same frames to the same bytes twice; MPEG-4 Part 2 does.
    monkeypatch.setattr(video_module, "_pick_mp4_codec", lambda: "mpeg4")
    (streamed,) = save_videos(stream, tmp_path / "streamed.mp4", grid=True)
    (whole,) = written_whole(result, tmp_path / "whole.mp4", grid=True, overlay=False, scale=1)
    assert streamed.read_bytes() == whole.read_bytes()
    monkeypatch.undo()
    paths = save_videos(stream, tmp_path / "h264.mp4", overlay=True)
    videos = render_videos(result, overlay=True)
    for path, video in zip(paths, videos, strict=True):
        back = read_video(path)
        assert back.shape == video.shape
        assert np.abs(back.astype(float) - video).mean() < 4  # lossy, but these frames


def test_keypoints_json_is_the_whole_document(pipe, image, tmp_path):
    stream = pipe.stream(image, "squats", **CALL)
    path = save_keypoints_json(stream, tmp_path / "points.json")
    doc = json.loads(path.read_text())
    expected = {
        "action": "squats",
        "coordinates": doc["coordinates"],
        "frame_0": "the input image",
        "keypoints": np.round(stream.keypoints.astype(np.float64), 5).tolist(),
    }
    assert path.read_text() == json.dumps(expected) + "\n"
    np.testing.assert_allclose(load_keypoints_json(path), stream.keypoints, atol=1e-5)


def test_a_failure_mid_stream_leaves_no_file(pipe, image, tmp_path):
    stream = pipe.stream(image, "squats", chunk=2, **CALL)

    def breaks_after_one_chunk():
        chunks = iter(stream)
        yield next(chunks)
        raise RuntimeError("rendering failed")

    class Broken:
        keypoints = stream.keypoints

        def __iter__(self):
            return breaks_after_one_chunk()

    for grid in (False, True):
        with pytest.raises(RuntimeError, match="rendering failed"):
            save_videos(Broken(), tmp_path / "out.gif", grid=grid)
    assert not any(tmp_path.iterdir())


def test_predict_and_animate_stream_from_the_command_line(
    models, pipe, image, tmp_path, monkeypatch
):
    """Rendered two frames at a time, written as the whole result would be; ``animate``
    reads the driving frames at the model's size."""
    monkeypatch.setattr(generate, "CHUNK_PIXELS", 2 * 3 * S * S)  # 2 frames of 3 samples
    still = write_image(tmp_path / "still.png", image)
    args = ["--checkpoint", str(models.pipeline), "--image", str(still), "--overlay"]
    out = tmp_path / "cli.gif"
    call = ["--action", "squats", "--frames", "6", "--samples", "3", "--seed", "1", "--grid"]
    assert main(["predict", *args, *call, "--out", str(out)]) == 0
    result = pipe(still, "squats", **CALL)
    (whole,) = written_whole(result, tmp_path / "api.gif", grid=True, overlay=True, scale=1)
    assert out.read_bytes() == whole.read_bytes()

    driving = np.random.default_rng(1).integers(0, 256, (5, 48, 40, 3), dtype=np.uint8)
    clip = write_video(tmp_path / "driving.gif", driving)
    assert main(["animate", *args, "--driving", str(clip), "--out", str(out)]) == 0
    result = pipe.animate(still, read_video(clip))
    (whole,) = written_whole(result, tmp_path / "api.gif", grid=False, overlay=True, scale=1)
    assert out.read_bytes() == whole.read_bytes()


def test_writing_a_long_stream_holds_a_chunk_not_the_video(pipe, image, tmp_path):
    """numpy's peak while 1024 frames go to a GIF: a few chunks, not the 1025 frames."""
    import tracemalloc

    stream = pipe.stream(image, "squats", frames=1024, chunk=64)
    whole = stream.length * S * S * 4  # the frames and their masks (float32: 4 bytes a pixel)
    tracemalloc.start()
    try:
        save_videos(stream, tmp_path / "long.gif")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < whole / 4, (peak, whole)
    assert len(read_video(tmp_path / "long.gif")) == 1025
