"""Video I/O: real clips, write→read round trips, and a clear error for every bad input."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from keyvid.errors import KeyvidError
from keyvid.io import (
    VIDEO_SUFFIXES,
    mp4_codec,
    open_video,
    read_video,
    read_video_fps,
    write_image,
    write_video,
)
from keyvid.io import video as video_module

CLIPS = {  # name: (frames, height, width, fps) from the clips' README
    "carphone_pristine.mp4": (120, 144, 176, 30000 / 1001),
    "bikes.mp4": (250, 272, 640, 25.0),
}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def moving_video(frames: int = 12, h: int = 36, w: int = 52, seed: int = 0) -> np.ndarray:
    """Smooth gradients plus a moving square: codec-friendly content, like real footage."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    video = np.empty((frames, h, w, 3), dtype=np.uint8)
    for t in range(frames):
        # No wrap-around and mid saturation: 4:2:0 chroma blurs hard colour edges.
        video[t, ..., 0] = 48 + xx * 128 // max(w - 1, 1) + 4 * t
        video[t, ..., 1] = 48 + yy * 128 // max(h - 1, 1)
        video[t, ..., 2] = 128
        x0 = 2 + t * 2 % (w - 12)
        video[t, 8:18, x0 : x0 + 10] = rng.integers(40, 216, 3)
    return video


def palette_video(frames: int = 6, h: int = 17, w: int = 23) -> np.ndarray:
    """At most 20 colours (fits a GIF palette exactly), with repeated consecutive frames."""
    rng = np.random.default_rng(1)
    colours = rng.integers(0, 256, (20, 3), dtype=np.uint8)
    video = colours[rng.integers(0, 20, (frames, h, w))]
    if frames >= 4:
        video[2] = video[3] = video[1]  # Pillow merges identical frames; read must undo that
    return video


def assert_helpful(exc: pytest.ExceptionInfo, path: Path, *words: str) -> None:
    """The message is one line, names the path and says what was wrong."""
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message
    for word in words:
        assert word in message.lower(), message


# --------------------------------------------------------------------------- real clips


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_read_real_clip(real_clips_dir: Path, name: str) -> None:
    frames, h, w, fps = CLIPS[name]
    video = read_video(real_clips_dir / name)
    assert video.shape == (frames, h, w, 3)
    assert video.dtype == np.uint8
    assert video[::25].std() > 10  # real content, not a blank decode
    assert read_video_fps(real_clips_dir / name) == pytest.approx(fps, rel=1e-3)


def test_read_real_clip_max_frames(real_clips_dir: Path) -> None:
    path = real_clips_dir / "bigbuckbunny.mp4"
    video = read_video(path, max_frames=5)
    assert video.shape == (5, 720, 1280, 3)
    assert read_video_fps(path) == pytest.approx(25.0)
    full = read_video(real_clips_dir / "carphone_pristine.mp4")
    head = read_video(real_clips_dir / "carphone_pristine.mp4", max_frames=7)
    np.testing.assert_array_equal(head, full[:7])


def test_real_clip_mp4_round_trip(real_clips_dir: Path, tmp_path: Path) -> None:
    clip = read_video(real_clips_dir / "carphone_pristine.mp4", max_frames=20)
    out = write_video(tmp_path / "copy.mp4", clip, fps=30000 / 1001)
    back = read_video(out)
    assert back.shape == clip.shape
    assert psnr(back, clip) > 32
    assert read_video_fps(out) == pytest.approx(29.97, rel=1e-3)


# --------------------------------------------------------------------------- round trips


def test_mp4_round_trip(tmp_path: Path) -> None:
    video = moving_video()
    path = write_video(tmp_path / "clip.mp4", video, fps=12)
    assert path == tmp_path / "clip.mp4"
    back = read_video(path)
    assert back.shape == video.shape
    assert psnr(back, video) > 30
    assert read_video_fps(path) == pytest.approx(12.0)


def test_mp4_uses_h264_when_available(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", moving_video(4), fps=8)
    with av.open(str(path)) as container:
        codec = container.streams.video[0].codec_context.name
    assert mp4_codec() in ("libx264", "libopenh264", "mpeg4")
    assert codec == ("h264" if mp4_codec() != "mpeg4" else "mpeg4")


@pytest.mark.parametrize(("h", "w"), [(35, 52), (36, 51), (33, 47)])
def test_mp4_odd_sizes_are_padded(tmp_path: Path, h: int, w: int) -> None:
    video = moving_video(9, h, w)
    back = read_video(write_video(tmp_path / "odd.mp4", video, fps=8))
    # yuv420p needs even sizes: one replicated row/column is added, content kept.
    assert back.shape == (9, h + h % 2, w + w % 2, 3)
    assert psnr(back[:, :h, :w], video) > 30


def test_mp4_single_frame_and_list_input(tmp_path: Path) -> None:
    frames = list(moving_video(1))
    back = read_video(write_video(tmp_path / "one.mp4", frames))
    assert back.shape == (1, 36, 52, 3)


def test_gif_round_trip_exact_for_palette_content(tmp_path: Path) -> None:
    video = palette_video()
    path = write_video(tmp_path / "clip.gif", video, fps=30)
    back = read_video(path)
    np.testing.assert_array_equal(back, video)
    assert read_video_fps(path) == pytest.approx(30.0)


def test_gif_round_trip_natural_content_is_close(tmp_path: Path) -> None:
    video = moving_video(10)
    back = read_video(write_video(tmp_path / "clip.gif", video, fps=8))
    assert back.shape == video.shape
    assert psnr(back, video) > 28


def test_gif_static_video_keeps_frame_count(tmp_path: Path) -> None:
    video = np.repeat(palette_video(1), 5, axis=0)
    back = read_video(write_video(tmp_path / "still.gif", video, fps=12))
    np.testing.assert_array_equal(back, video)


def test_gif_loops_forever(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.gif", palette_video(), fps=10)
    with Image.open(path) as gif:
        assert gif.info["loop"] == 0
        assert gif.n_frames >= 2


def test_foreign_gif_with_palette_and_transparency(tmp_path: Path) -> None:
    """A GIF made elsewhere: palette frames, a transparent index, 50 ms delays."""
    frames = []
    for t in range(3):
        frame = Image.new("P", (10, 8), 0)
        frame.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
        frame.paste(1, (t, 0, t + 3, 3))
        frames.append(frame)
    path = tmp_path / "foreign.gif"
    frames[0].save(
        path, save_all=True, append_images=frames[1:], duration=50, transparency=0, disposal=2
    )
    video = read_video(path)
    assert video.shape == (3, 8, 10, 3)
    np.testing.assert_array_equal(video[0, 0, 0], [0, 0, 255])  # opaque blue square
    np.testing.assert_array_equal(video[0, 7, 9], [255, 255, 255])  # transparent → white
    assert read_video_fps(path) == pytest.approx(20.0)


def test_read_gif_max_frames(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.gif", palette_video(), fps=10)
    assert read_video(path, max_frames=2).shape == (2, 17, 23, 3)


def test_folder_of_frames_round_trip_natural_sort(tmp_path: Path) -> None:
    video = palette_video(12)
    folder = tmp_path / "frames"
    for i, frame in enumerate(video):
        write_image(folder / f"{i}.png", frame)  # 10.png must come after 2.png
    (folder / "notes.txt").write_text("not a frame")
    np.testing.assert_array_equal(read_video(folder), video)
    assert read_video(folder, max_frames=3).shape == (3, 17, 23, 3)
    assert read_video_fps(folder) is None


def test_folder_greyscale_and_rgba_frames_become_rgb(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(np.full((6, 5), 90, np.uint8), "L").save(folder / "frame_001.png")
    rgba = np.zeros((6, 5, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(folder / "frame_002.png")
    video = read_video(folder)
    assert video.shape == (2, 6, 5, 3)
    np.testing.assert_array_equal(video[0, 0, 0], [90, 90, 90])
    np.testing.assert_array_equal(video[1, 0, 0], [200, 0, 0])


def test_rotated_phone_video_comes_out_upright(tmp_path: Path) -> None:
    frame = np.zeros((32, 48, 3), np.uint8)
    frame[:8, :8] = 255  # white top-left corner
    path = tmp_path / "rotated.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        stream.set_display_rotation(90)  # display rotated 90° counter-clockwise
        for i in range(2):
            packet_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            packet_frame.pts = i
            out.mux(stream.encode(packet_frame))
        out.mux(stream.encode(None))
    video = read_video(path)
    assert video.shape == (2, 48, 32, 3)
    assert video[0, -6:, :6].mean() > 200  # top-left turned to bottom-left
    assert video[0, :6, :6].mean() < 50


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "clip.mp4"  # missing folders are created
    write_video(target, moving_video(3))
    write_video(target, moving_video(5))  # overwrite in place
    assert read_video(target).shape[0] == 5
    assert sorted(p.name for p in target.parent.iterdir()) == ["clip.mp4"]


# --------------------------------------------------------------------------- streaming


def chunked(video: np.ndarray, path: Path, size: int, fps: float = 8) -> Path:
    """Write ``video`` through open_video, ``size`` frames at a time."""
    with open_video(path, fps=fps) as out:
        for start in range(0, len(video), size):
            out.write(video[start : start + size])
        assert out.frames == len(video)
        assert not path.exists()  # it appears when the block ends
    return path


def test_streamed_gif_is_write_videos_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(video_module, "_GIF_SEGMENT_FRAMES", 4)  # segments of 4 frames
    video = moving_video(11)
    video[3:6] = video[2]  # repeats that straddle a segment boundary
    whole = write_video(tmp_path / "whole.gif", video)
    for size in (1, 3, 11):
        assert chunked(video, tmp_path / f"{size}.gif", size).read_bytes() == whole.read_bytes()
    # Segments decode to what Pillow writes in one go (frame for frame; repeats too).
    images = [Image.fromarray(f) for f in video]
    pillow = tmp_path / "pillow.gif"
    tag = f"{video_module._GIF_TAG}8.0"
    images[0].save(pillow, save_all=True, append_images=images[1:], duration=125, comment=tag)
    np.testing.assert_array_equal(read_video(whole), read_video(pillow))
    assert len(read_video(whole)) == 11 and read_video_fps(whole) == pytest.approx(8)
    with Image.open(whole) as gif:
        assert gif.info["loop"] == 0


def test_streamed_gif_keeps_palette_content_exact(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(video_module, "_GIF_SEGMENT_FRAMES", 2)
    video = palette_video(9)
    np.testing.assert_array_equal(read_video(chunked(video, tmp_path / "a.gif", 4)), video)


def test_streamed_mp4_is_write_videos_file(tmp_path: Path, monkeypatch) -> None:
    video = moving_video(9, 35, 51)  # odd sizes: every chunk is padded alike
    # x264 here does not encode the same frames to the same bytes twice; MPEG-4 Part 2 does.
    monkeypatch.setattr(video_module, "_pick_mp4_codec", lambda: "mpeg4")
    whole = write_video(tmp_path / "whole.mp4", video, fps=12)
    assert chunked(video, tmp_path / "chunked.mp4", 4, fps=12).read_bytes() == whole.read_bytes()
    monkeypatch.undo()
    back = read_video(chunked(video, tmp_path / "h264.mp4", 2))
    assert back.shape == (9, 36, 52, 3) and psnr(back[:, :35, :51], video) > 30


def test_a_failed_stream_leaves_no_file(tmp_path: Path) -> None:
    target = write_video(tmp_path / "clip.gif", palette_video(), fps=10)
    before = target.read_bytes()
    with pytest.raises(RuntimeError, match="stop"), open_video(target) as out:
        out.write(moving_video(3, 17, 23))
        raise RuntimeError("stop")
    with pytest.raises(ValueError, match="same size"), open_video(target) as out:
        out.write(moving_video(3, 17, 23))
        out.write(moving_video(3, 18, 23))
    with pytest.raises(ValueError, match="zero frames"), open_video(tmp_path / "none.mp4"):
        pass
    with pytest.raises(KeyvidError, match="suffix"), open_video(tmp_path / "a.webm"):
        pass
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["clip.gif"]


def test_video_suffixes_cover_common_formats() -> None:
    assert {".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif"} <= VIDEO_SUFFIXES


# --------------------------------------------------------------------------- errors


def test_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.mp4"
    with pytest.raises(KeyvidError) as exc:
        read_video(path)
    assert_helpful(exc, path, "no such file")
    with pytest.raises(KeyvidError):
        read_video_fps(path)


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    path = tmp_path / "fake.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(KeyvidError) as exc:
        read_video(path)
    assert_helpful(exc, path, "not a video", "re-encode")


def test_text_file_renamed_gif(tmp_path: Path) -> None:
    path = tmp_path / "fake.gif"
    path.write_text("GIF? no\n" * 20)
    with pytest.raises(KeyvidError) as exc:
        read_video(path)
    assert_helpful(exc, path, "not a gif")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(KeyvidError) as exc:
        read_video(path)
    assert_helpful(exc, path, "empty")


def test_truncated_real_mp4(real_clips_dir: Path, tmp_path: Path) -> None:
    """The clips keep their index at the end: cutting the file loses it."""
    path = tmp_path / "cut.mp4"
    data = (real_clips_dir / "carphone_pristine.mp4").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(KeyvidError) as exc:
        read_video(path)
    assert_helpful(exc, path, "truncated")


def test_truncated_faststart_mp4(tmp_path: Path) -> None:
    """Our MP4s keep their index first: cutting the file loses frames, which is detected."""
    path = write_video(tmp_path / "clip.mp4", moving_video(30), fps=8)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(KeyvidError) as exc:
        read_video(path)
    assert_helpful(exc, path, "truncated")
    assert read_video(path, max_frames=3).shape[0] == 3  # the intact head is still readable


def test_truncated_gif(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.gif", moving_video(10), fps=8)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(KeyvidError) as exc:
        read_video(path)
    assert_helpful(exc, path, "truncated")


def test_zero_frame_video(tmp_path: Path) -> None:
    path = tmp_path / "zero.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        out.start_encoding()
    with pytest.raises(KeyvidError) as exc:
        read_video(path)
    assert_helpful(exc, path, "zero frames")


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(KeyvidError) as exc:
        read_video(path)
    assert_helpful(exc, path, "unsupported", ".mp4")


def test_still_image_is_not_a_video(tmp_path: Path) -> None:
    path = write_image(tmp_path / "photo.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(KeyvidError) as exc:
        read_video(path)
    assert_helpful(exc, path, "still image", "folder of frames")


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(KeyvidError) as exc:
        read_video(tmp_path)
    assert_helpful(exc, tmp_path, "no frame images")


def test_folder_with_frames_of_different_sizes(tmp_path: Path) -> None:
    write_image(tmp_path / "1.png", np.zeros((8, 8, 3), np.uint8))
    write_image(tmp_path / "2.png", np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(KeyvidError) as exc:
        read_video(tmp_path)
    assert_helpful(exc, tmp_path / "2.png", "differs", "9×8")


def test_unknown_output_suffix(tmp_path: Path) -> None:
    path = tmp_path / "clip.webp"
    with pytest.raises(KeyvidError) as exc:
        write_video(path, moving_video(2))
    assert_helpful(exc, path, ".mp4", ".gif")
    assert not path.exists()


def test_unwritable_output_location(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    path = blocker / "clip.mp4"
    with pytest.raises(KeyvidError) as exc:
        write_video(path, moving_video(2))
    assert_helpful(exc, path, "cannot write")


def test_output_path_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "out.mp4"
    folder.mkdir()
    with pytest.raises(KeyvidError) as exc:
        write_video(folder, moving_video(2))
    assert_helpful(exc, folder, "folder")


def test_bad_frames_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="zero frames"):
        write_video(tmp_path / "a.mp4", [])
    with pytest.raises(ValueError, match="same size"):
        write_video(tmp_path / "a.mp4", [np.zeros((4, 4, 3)), np.zeros((4, 6, 3))])
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "a.mp4", moving_video(2), fps=0)
    assert not any(tmp_path.iterdir())


def test_failed_write_keeps_previous_file(tmp_path: Path, monkeypatch) -> None:
    target = write_video(tmp_path / "clip.gif", palette_video(), fps=10)
    before = target.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(video_module._GifEncoder, "write", explode)
    with pytest.raises(KeyvidError, match="disk full"):
        write_video(target, palette_video(), fps=10)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["clip.gif"]


def _moving_square(frames: int = 20, size: int = 48) -> np.ndarray:
    """A smooth background with a bright square moving across it: (T, S, S, 3) uint8."""
    rng = np.random.default_rng(0)
    base = np.linspace(0, 200, size, dtype=np.float32)[None, :, None] + rng.normal(
        0, 2, (size, size, 3)
    )
    video = np.repeat(np.clip(base, 0, 255).astype(np.uint8)[None], frames, axis=0)
    for t in range(frames):
        video[t, 10:20, 2 + 2 * t : 12 + 2 * t] = (250, 40, 40)
    return video


def test_a_shared_palette_gif_is_close_to_the_frames_and_smaller(tmp_path):
    video = _moving_square()
    per_frame = write_video(tmp_path / "frame.gif", video)
    shared = write_video(tmp_path / "shared.gif", video, gif_palette="shared")
    back = read_video(shared)
    assert back.shape == video.shape
    error = np.abs(back.astype(int) - video.astype(int))
    assert error.mean() < 4 and error.max() <= 64
    assert shared.stat().st_size < per_frame.stat().st_size


def test_a_shared_palette_gif_written_in_chunks_keeps_every_frame_close(tmp_path):
    # The palette comes from the first chunk (open_video's docstring), so the bytes may
    # differ from a whole write; every frame must still be there and close to its source.
    video = _moving_square()
    with open_video(tmp_path / "chunks.gif", gif_palette="shared") as writer:
        for lo in range(0, len(video), 7):
            writer.write(video[lo : lo + 7])
    back = read_video(tmp_path / "chunks.gif")
    assert back.shape == video.shape
    assert np.abs(back.astype(int) - video.astype(int)).mean() < 4
