"""Videos in and out: every video becomes ``(T, H, W, 3)`` uint8 RGB.

Reading: container files (.mp4 .mov .avi .mkv .webm ...) through PyAV, GIFs
through Pillow (palette, transparency and frame disposal resolved to RGB), and
folders of numbered frames (naturally sorted, so ``2.png`` comes before
``10.png``). Writing: ``.mp4`` (H.264 through PyAV, MPEG-4 Part 2 if no H.264
encoder is built in) and ``.gif`` (Pillow, loops forever; a palette per frame, or
with ``gif_palette="shared"`` one palette for the whole video), always atomically,
all at once (``write_video``) or as frames arrive (``open_video``).
"""

from __future__ import annotations

import functools
import io
import math
import re
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
from PIL import Image, ImageSequence

from keyvid.errors import KeyvidError
from keyvid.io.image import IMAGE_SUFFIXES, as_rgb, atomic_output, pil_to_rgb, read_image

VIDEO_SUFFIXES: frozenset[str] = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".gif", ".mpg", ".mpeg", ".wmv", ".flv"}
)
WRITE_SUFFIXES: tuple[str, ...] = (".mp4", ".gif")
FRAME_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp"})

# H.264 first: it plays everywhere (browsers, slides). mpeg4 is in every FFmpeg build.
_MP4_CODECS: tuple[str, ...] = ("libx264", "libopenh264", "mpeg4")
# Visually lossless for x264; keeps round-trip tests meaningful without huge files.
_X264_CRF = "18"
# Our GIFs carry their exact frame rate here, because GIF delays are whole
# centiseconds (8 fps is stored as 120 ms) and Pillow merges identical
# consecutive frames into one longer frame; the tag lets read_video undo both.
_GIF_TAG = "keyvid fps="
_FIX_HINT = "re-download it or re-encode it (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`)"
_GIF_HINT = "re-download it or export it again"
# GIFs are encoded this many frames (or this many pixels) at a time, so a long video
# holds one segment in memory; each segment starts with a whole frame.
_GIF_SEGMENT_FRAMES = 64
_GIF_SEGMENT_PIXELS = 1 << 22
# gif_palette="shared": the palette has 255 colours, so index 255 is free to mark the
# pixels a frame leaves as they were (transparent over the previous frame).
_GIF_SHARED_COLORS = 255
_GIF_UNCHANGED = 255
# ... and a pixel keeps the colour it shows while that is at most this many levels (of
# 255, in its worst channel) further from the frame's colour than the nearest palette
# colour is: slight flicker (a generated background) is not stored again and again.
_GIF_KEEP_WITHIN = 4
GIF_PALETTES: tuple[str, ...] = ("frame", "shared")
GifPalette = Literal["frame", "shared"]


FrameTransform = Callable[[np.ndarray], np.ndarray]


def read_video(
    path: str | Path, *, max_frames: int | None = None, transform: FrameTransform | None = None
) -> np.ndarray:
    """Read a video file or a folder of frames as ``(T, H, W, 3)`` uint8 RGB.

    ``max_frames`` stops after that many frames (cheap preview of long clips).
    ``transform`` maps each decoded ``(H, W, 3)`` frame before it is kept (a crop
    and resize), so a long high-resolution video never sits in memory at full size.
    Raises KeyvidError with a one-line fix for every unreadable input.
    """
    path = _existing(path)
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
    keep = transform or _identity
    if path.is_dir():
        return _read_folder(path, max_frames, keep)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return _read_gif(path, max_frames, keep)
    if suffix in VIDEO_SUFFIXES:
        return _read_av(path, max_frames, keep)
    raise _unsupported(path)


def _identity(frame: np.ndarray) -> np.ndarray:
    return frame


def read_video_fps(path: str | Path) -> float | None:
    """Frame rate stored in a video file, or None when it has none (folders of frames)."""
    path = _existing(path)
    if path.is_dir():
        return None
    suffix = path.suffix.lower()
    if suffix == ".gif":
        with _open_gif(path) as gif:
            return _gif_fps(gif)
    if suffix not in VIDEO_SUFFIXES:
        raise _unsupported(path)
    with _open_av(path) as container:
        stream = _video_stream(container, path)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        return float(rate) if rate else None


def write_video(
    path: str | Path,
    frames: np.ndarray | Sequence[np.ndarray],
    *,
    fps: float = 8.0,
    gif_palette: GifPalette = "frame",
) -> Path:
    """Write frames to ``.mp4`` or ``.gif`` (chosen by suffix) atomically; return the path.

    ``frames`` is ``(T, H, W, 3)`` (or a list of ``(H, W, 3)``; greyscale, RGBA
    and float [0, 1] are converted). MP4 needs even sizes for yuv420p, so an odd
    height or width is padded by one replicated row or column at the bottom or
    right: the file is then one pixel larger than the input. ``open_video`` writes
    the same file from frames that arrive a chunk at a time.

    ``gif_palette`` (GIF only; MP4 ignores it): ``"frame"`` gives each frame its own
    256 colours (Pillow's adaptive palette), best when colours change over the video.
    ``"shared"`` quantises every frame to one 255-colour palette chosen from the first
    frames written (here: all of them), without dithering, so a pixel that did not
    change keeps its colour index (and one that changed by a few levels keeps its
    colour, at most 4 levels worse than the nearest palette colour) and each frame
    stores only the rectangle that changed, with the unchanged pixels in it
    transparent: several times smaller for videos whose pixels mostly stay put (grids,
    captions, still backgrounds).
    """
    path = _check_output(path, fps, gif_palette)
    array = _as_frames(frames)
    with open_video(path, fps=fps, gif_palette=gif_palette) as video:
        video.write(array)
    return path


class VideoWriter:
    """An open ``.mp4`` or ``.gif`` that takes frames as they come (made by ``open_video``)."""

    def __init__(
        self, tmp: Path, path: Path, fps: float, gif_palette: GifPalette = "frame"
    ) -> None:
        self.path, self.fps, self.frames = path, fps, 0
        self._tmp, self._gif_palette = tmp, gif_palette
        self._encoder: _GifEncoder | _SharedPaletteGifEncoder | _Mp4Encoder | None = None
        self._shape: tuple[int, ...] = ()

    def write(self, frames: np.ndarray | Sequence[np.ndarray]) -> None:
        """Append ``(n, H, W, 3)`` frames (or a list of ``(H, W, 3)``), as ``write_video`` takes."""
        array = _as_frames(frames)
        if self._shape and array.shape[1:] != self._shape:
            raise ValueError(
                f"all frames must have the same size, got {array.shape[1:]} after {self._shape}"
            )
        self._shape = array.shape[1:]
        with _writing(self.path):
            if self._encoder is None:
                self._encoder = self._open_encoder(array)
            for frame in array:
                self._encoder.write(frame)
        self.frames += len(array)

    def _open_encoder(
        self, first: np.ndarray
    ) -> _GifEncoder | _SharedPaletteGifEncoder | _Mp4Encoder:
        if self.path.suffix.lower() != ".gif":
            return _Mp4Encoder(self._tmp, self._shape, self.fps)
        if self._gif_palette == "shared":
            return _SharedPaletteGifEncoder(self._tmp, first, self.fps)
        return _GifEncoder(self._tmp, self._shape, self.fps)

    def _finish(self) -> None:
        if self._encoder is None:
            raise ValueError("cannot write a video with zero frames")
        with _writing(self.path):
            self._encoder.finish()

    def _close(self) -> None:
        if self._encoder is not None:
            self._encoder.close()


@contextmanager
def open_video(
    path: str | Path, *, fps: float = 8.0, gif_palette: GifPalette = "frame"
) -> Iterator[VideoWriter]:
    """Write a video chunk by chunk, holding only a few frames however long it gets.

        with open_video("out.gif", fps=8) as video:
            for chunk in chunks:  # (n, H, W, 3) uint8
                video.write(chunk)

    The file is the one ``write_video`` makes from all the frames at once, except
    that a ``gif_palette="shared"`` palette is chosen from the first chunk only. It
    appears under ``path`` only when the block ends without an error, and is absent
    (or the previous file is kept) otherwise; no frames at all is a ValueError.
    """
    path = _check_output(path, fps, gif_palette)
    with atomic_output(path) as tmp:
        writer = VideoWriter(tmp, path, fps, gif_palette)
        try:
            yield writer
            writer._finish()
        finally:
            writer._close()


def mp4_codec() -> str:
    """Name of the encoder ``write_video`` uses for .mp4 in this PyAV build."""
    return _pick_mp4_codec()


# --------------------------------------------------------------------------- reading


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise KeyvidError(f"{path}: no such file or folder; check the path")
    return path


def _unsupported(path: Path) -> KeyvidError:
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return KeyvidError(
            f"{path}: is a still image, not a video; pass a video file or a folder of frames"
        )
    return KeyvidError(
        f"{path}: unsupported video format {path.suffix!r}; "
        f"use one of {', '.join(sorted(VIDEO_SUFFIXES))} or a folder of frames"
    )


def _natural_key(path: Path) -> list[int | str]:
    """Sort key so that frame ``2.png`` comes before ``10.png``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _read_folder(folder: Path, max_frames: int | None, keep: FrameTransform) -> np.ndarray:
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.is_file()),
        key=_natural_key,
    )
    if not files:
        raise KeyvidError(
            f"{folder}: folder has no frame images; "
            f"put numbered {'/'.join(sorted(FRAME_SUFFIXES))} files in it"
        )
    frames, first = [], None
    for file in files[:max_frames]:
        frame = read_image(file)
        first = first or frame.shape
        if frame.shape != first:
            raise KeyvidError(
                f"{file}: frame size {frame.shape[1]}×{frame.shape[0]} differs from "
                f"{files[0].name} ({first[1]}×{first[0]}); resize all frames of a folder alike"
            )
        frames.append(keep(frame))
    return np.stack(frames)


def _open_gif(path: Path) -> Image.Image:
    try:
        gif = Image.open(path)
        gif.load()
    except Exception as exc:  # Pillow raises several unrelated types for bad data
        raise KeyvidError(
            f"{path}: cannot read GIF: the file is corrupt, truncated or not a GIF "
            f"({exc}); {_GIF_HINT}"
        ) from exc
    return gif


def _read_gif(path: Path, max_frames: int | None, keep: FrameTransform) -> np.ndarray:
    with _open_gif(path) as gif:
        tagged_fps = _gif_tag_fps(gif)
        base_ms = 1000.0 / tagged_fps if tagged_fps else None
        frames: list[np.ndarray] = []
        try:
            for frame in ImageSequence.Iterator(gif):
                rgb = keep(pil_to_rgb(frame))
                # Re-expand frames that Pillow merged on write (see _GIF_TAG).
                repeats = max(1, round(frame.info.get("duration", 0) / base_ms)) if base_ms else 1
                frames.extend([rgb] * repeats)
                if max_frames is not None and len(frames) >= max_frames:
                    break
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise KeyvidError(
                f"{path}: GIF is corrupt or truncated after {len(frames)} frames "
                f"({exc}); {_GIF_HINT}"
            ) from exc
    return np.stack(frames[:max_frames])


def _gif_tag_fps(gif: Image.Image) -> float | None:
    """Frame rate recorded by ``write_video``, or None for a foreign GIF."""
    comment = gif.info.get("comment", b"")
    text = comment.decode("ascii", "replace") if isinstance(comment, bytes) else str(comment)
    if not text.startswith(_GIF_TAG):
        return None
    try:
        fps = float(text[len(_GIF_TAG) :])
    except ValueError:
        return None
    return fps if math.isfinite(fps) and fps > 0 else None


def _gif_fps(gif: Image.Image) -> float | None:
    tagged = _gif_tag_fps(gif)
    if tagged:
        return tagged
    durations = [frame.info.get("duration", 0) for frame in ImageSequence.Iterator(gif)]
    positive = [d for d in durations if d > 0]
    # The median ignores a long hold on the first or last frame.
    return 1000.0 / float(np.median(positive)) if positive else None


def _open_av(path: Path) -> av.container.InputContainer:
    if path.stat().st_size == 0:
        raise KeyvidError(f"{path}: the file is empty (0 bytes); {_FIX_HINT}")
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise KeyvidError(
            f"{path}: cannot read video: the file is corrupt, truncated or not a video "
            f"({exc.strerror or exc}); {_FIX_HINT}"
        ) from None


def _video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    if not container.streams:
        # An encoder that was given no frames leaves a file with no streams at all.
        raise KeyvidError(
            f"{path}: the video has zero frames (no streams); pass a video with content"
        )
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams}))
        raise KeyvidError(f"{path}: has no video stream (only {kinds}); pass a file with video")
    return container.streams.video[0]


def _read_av(path: Path, max_frames: int | None, keep: FrameTransform) -> np.ndarray:
    with _open_av(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"  # frame threading: ~2× faster on HD clips
        declared = stream.frames  # from the container index; 0 when unknown (mkv, webm)
        frames: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                frames.append(keep(_frame_to_rgb(frame)))
                if max_frames is not None and len(frames) >= max_frames:
                    break
        except av.error.FFmpegError as exc:
            raise KeyvidError(
                f"{path}: video is corrupt after {len(frames)} frames "
                f"({exc.strerror or exc}); {_FIX_HINT}"
            ) from None
    if not frames:
        raise KeyvidError(f"{path}: the video has zero frames; pass a video with content")
    if max_frames is None and _looks_truncated(len(frames), declared):
        raise KeyvidError(
            f"{path}: video is truncated: decoded {len(frames)} of {declared} frames; {_FIX_HINT}"
        )
    return np.stack(frames)


def _looks_truncated(decoded: int, declared: int) -> bool:
    """True if far fewer frames decoded than the index lists.

    A small slack is allowed because edit lists legitimately hide a frame or two
    (e.g. B-frame priming) that the index still counts.
    """
    return declared > 0 and decoded < declared - max(2, declared // 50)


def _frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    rgb = frame.to_ndarray(format="rgb24")
    # Phone videos are stored sideways with a display-matrix rotation (counter-clockwise
    # degrees); apply it like players do, so the frames come out upright.
    quarter_turns = round(frame.rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, quarter_turns)) if quarter_turns else rgb


# --------------------------------------------------------------------------- writing


def _as_frames(frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Validate and convert frames to a ``(T, H, W, 3)`` uint8 array."""
    if isinstance(frames, np.ndarray) and frames.ndim in (3, 4):
        items = list(frames)
    elif isinstance(frames, np.ndarray):
        raise ValueError(f"expected frames of shape (T, H, W, 3), got {frames.shape}")
    else:
        items = list(frames)
    if not items:
        raise ValueError("cannot write a video with zero frames")
    rgb = [as_rgb(f) for f in items]
    shapes = {f.shape for f in rgb}
    if len(shapes) > 1:
        raise ValueError(f"all frames must have the same size, got {sorted(shapes)}")
    return np.stack(rgb)


def _check_output(path: str | Path, fps: float, gif_palette: str = "frame") -> Path:
    """``path`` as a Path, once its suffix, ``fps`` and ``gif_palette`` are known to be writable."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise KeyvidError(
            f"{path}: cannot write videos with suffix {suffix!r}; "
            f"use one of {', '.join(WRITE_SUFFIXES)}"
        )
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps}")
    if gif_palette not in GIF_PALETTES:
        raise ValueError(
            f"gif_palette must be one of {', '.join(GIF_PALETTES)}, got {gif_palette!r}"
        )
    return path


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn a failed write (a full disk) into a KeyvidError naming ``path``."""
    try:
        yield
    except (OSError, av.error.FFmpegError) as exc:
        message = f"{path}: writing the video failed ({exc}); check free disk space"
        raise KeyvidError(message) from exc


class _GifFile:
    """What both GIF encoders share: the file open under its header, and the trailer that
    ends it once the last held-back frames are written (``_flush``)."""

    def __init__(self, tmp: Path, header: bytes) -> None:
        self._file = open(tmp, "wb")  # noqa: SIM115 (closed by finish or close)
        self._file.write(header)

    def finish(self) -> None:
        self._flush()
        self._file.write(b";")  # the trailer
        self._file.close()

    def close(self) -> None:
        self._file.close()

    def _flush(self) -> None:
        raise NotImplementedError


class _GifEncoder(_GifFile):
    """A GIF written segment by segment: Pillow encodes a segment's frames (a palette per
    frame, only the changed region of each next frame, repeats merged into one longer
    frame) and the frames are copied under one header. A segment starts with a whole frame.
    """

    def __init__(self, tmp: Path, shape: tuple[int, ...], fps: float) -> None:
        h, w = shape[:2]
        self._size = max(1, min(_GIF_SEGMENT_FRAMES, _GIF_SEGMENT_PIXELS // (h * w)))
        self._duration = 1000.0 / fps
        self._segment: list[Image.Image] = []
        super().__init__(tmp, _gif_header(w, h, fps))

    def write(self, frame: np.ndarray) -> None:
        # What Pillow does to an RGB frame it saves; done here to keep 1 byte a pixel.
        self._segment.append(Image.fromarray(frame).convert("P", palette=Image.Palette.ADAPTIVE))
        if len(self._segment) == self._size:
            self._flush()

    def _flush(self) -> None:
        if not self._segment:
            return
        first, *rest = self._segment
        buffer = io.BytesIO()
        first.save(buffer, format="GIF", save_all=True, append_images=rest, duration=self._duration)
        self._file.write(_gif_frames(buffer.getvalue()))
        self._segment = []


def _gif_header(width: int, height: int, fps: float, table: bytes = b"") -> bytes:
    """GIF89a looping forever, tagged with ``fps``; ``table``: its global colour table
    (256 RGB triples), none when empty."""
    flags = 0xF7 if table else 0  # a table of 2 ** (7 + 1) colours, 8 bits per primary
    screen = struct.pack("<HHBBB", width, height, flags, 0, 0)
    loop = b"!\xff\x0bNETSCAPE2.0" + _sub_blocks(struct.pack("<BH", 1, 0))
    tag = b"!\xfe" + _sub_blocks(f"{_GIF_TAG}{float(fps)!r}".encode())
    return b"GIF89a" + screen + table + loop + tag


def _sub_blocks(data: bytes) -> bytes:
    """GIF data sub-blocks: at most 255 bytes each, then a zero-length terminator."""
    blocks = (data[i : i + 255] for i in range(0, len(data), 255))
    return b"".join(bytes([len(b)]) + b for b in blocks) + b"\0"


def _gif_frames(data: bytes) -> bytes:
    """The frames of a whole GIF file, ready to append to another GIF: each frame's
    extensions, image descriptor and data, the global colour table becoming a local one."""
    flags = data[10]
    table = data[13 : 13 + _table_bytes(flags)] if flags & 0x80 else b""
    pos, out = 13 + len(table), bytearray()
    while data[pos] != 0x3B:  # the trailer
        if data[pos] == 0x21:  # an extension: introducer, label, sub-blocks
            end = _after_sub_blocks(data, pos + 2)
            out += data[pos:end]
        elif data[pos] == 0x2C:  # an image: descriptor, colour table, LZW code size, data
            packed = data[pos + 9]
            if packed & 0x80:
                start = pos + 10 + _table_bytes(packed)
                out += data[pos:start]
            else:
                start = pos + 10
                out += data[pos : pos + 9] + bytes([(packed & 0x60) | 0x80 | (flags & 7)]) + table
            end = _after_sub_blocks(data, start + 1)
            out += data[start:end]
        else:
            raise ValueError(f"unexpected GIF block {data[pos]:#x} at byte {pos}")
        pos = end
    return bytes(out)


class _SharedPaletteGifEncoder(_GifFile):
    """A GIF whose frames share one palette (``gif_palette="shared"``), written frame by
    frame while holding only the colour indices on screen.

    The palette (255 colours, Pillow's fast octree) is chosen from whole frames spread
    over the first chunk, at most ``_GIF_SEGMENT_PIXELS`` pixels of them, and goes in the
    header as the global colour table. Frames are mapped to it without dithering, so a
    pixel that stays put keeps its index; one that changed slightly keeps it too while
    its colour on screen is at most ``_GIF_KEEP_WITHIN`` levels worse than the nearest
    palette colour. Each frame after the first stores only the rectangle around the
    pixels that change, the others in it as the transparent index 255 over the previous
    frame (disposal 1: left in place). A frame with nothing to change lengthens the
    previous one's delay, as Pillow merges equal frames, so frames are held back by one
    until their delay is known.
    """

    def __init__(self, tmp: Path, first: np.ndarray, fps: float) -> None:
        count, h, w = first.shape[:3]
        picks = np.linspace(0, count - 1, max(1, min(count, _GIF_SEGMENT_PIXELS // (h * w))))
        mosaic = Image.fromarray(first[picks.round().astype(int)].reshape(-1, w, 3))
        self._palette = mosaic.quantize(_GIF_SHARED_COLORS, method=Image.Quantize.FASTOCTREE)
        self._table = bytes(self._palette.getpalette() or []).ljust(768, b"\0")[:768]
        self._colors = np.frombuffer(self._table, np.uint8).reshape(256, 3).astype(np.int16)
        self._duration = 1000.0 / fps
        self._shown: np.ndarray | None = None  # (H, W) colour indices on screen
        self._pending: tuple[bytes, bool] | None = None  # an image's bytes, transparent?
        self._pending_ms = 0.0
        super().__init__(tmp, _gif_header(w, h, fps, self._table))

    def write(self, frame: np.ndarray) -> None:
        image = Image.fromarray(frame).quantize(palette=self._palette, dither=Image.Dither.NONE)
        index = np.asarray(image)
        if self._shown is None:
            top, left, data, transparent = 0, 0, index, False
        else:
            rgb = frame.astype(np.int16)
            new = np.abs(self._colors[index] - rgb).max(-1)
            kept = np.abs(self._colors[self._shown] - rgb).max(-1)
            index = np.where(kept <= new + _GIF_KEEP_WITHIN, self._shown, index)
            changed = index != self._shown
            if not changed.any():
                self._pending_ms += self._duration
                return
            rows, cols = np.flatnonzero(changed.any(1)), np.flatnonzero(changed.any(0))
            top, left = int(rows[0]), int(cols[0])
            box = (slice(top, rows[-1] + 1), slice(left, cols[-1] + 1))
            data, transparent = np.where(changed, index, _GIF_UNCHANGED)[box], True
        self._flush()
        self._pending, self._pending_ms = (
            (self._image(data, left, top), transparent),
            self._duration,
        )
        self._shown = index

    def _flush(self) -> None:
        """Write the held-back frame, now that its delay is known."""
        if self._pending is None:
            return
        image, transparent = self._pending
        delay = int(self._pending_ms / 10)  # centiseconds, rounded down as Pillow does
        flags = 1 << 2 | int(transparent)  # disposal 1 (keep the frame), transparency flag
        control = struct.pack("<BBBBHBB", 0x21, 0xF9, 4, flags, delay, _GIF_UNCHANGED, 0)
        self._file.write(control + image)
        self._pending = None

    def _image(self, data: np.ndarray, left: int, top: int) -> bytes:
        """Image descriptor and LZW data of ``data`` (colour indices into the header's
        table) at ``(left, top)``, encoded by Pillow."""
        image = Image.fromarray(np.ascontiguousarray(data, dtype=np.uint8))  # mode L
        image.putpalette(self._table)  # now mode P
        buffer = io.BytesIO()
        # optimize=False: Pillow would otherwise renumber the colours of a small image.
        image.save(buffer, format="GIF", optimize=False)
        frame = _gif_frames(buffer.getvalue())  # Pillow's global table made local
        while frame[0] == 0x21:  # an extension of Pillow's (none is expected): ours replace it
            frame = frame[_after_sub_blocks(frame, 2) :]
        packed = frame[9]
        table = frame[10 : 10 + _table_bytes(packed)] if packed & 0x80 else b""
        if table != self._table:  # the indices would not mean the header's colours
            raise RuntimeError("Pillow rewrote the palette of a GIF frame")
        descriptor = struct.pack("<BHH", 0x2C, left, top) + frame[5:9]
        return descriptor + bytes([packed & ~0x87 & 0xFF]) + frame[10 + len(table) :]


def _table_bytes(packed: int) -> int:
    return 3 << ((packed & 7) + 1)


def _after_sub_blocks(data: bytes, pos: int) -> int:
    while data[pos]:
        pos += data[pos] + 1
    return pos + 1


def _pad_even(frame: np.ndarray) -> np.ndarray:
    """Pad the bottom row / right column by replication so H and W are even (yuv420p)."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


@functools.cache
def _pick_mp4_codec() -> str:
    for name in _MP4_CODECS:
        try:
            av.codec.Codec(name, "w")
        except Exception:  # PyAV raises UnknownCodecError, but older builds differ
            continue
        return name
    raise KeyvidError("this PyAV build has no MP4 video encoder; write .gif or reinstall `av`")


class _Mp4Encoder:
    """An MP4 encoded frame by frame (the encoder holds a few frames of look-ahead)."""

    def __init__(self, tmp: Path, shape: tuple[int, ...], fps: float) -> None:
        h, w = shape[0] + shape[0] % 2, shape[1] + shape[1] % 2
        codec = _pick_mp4_codec()
        rate = Fraction(fps).limit_denominator(1001)
        self._time_base, self._index = Fraction(1) / rate, 0
        # faststart puts the index first, so browsers can start playing before the end arrives.
        self._out = av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        self._stream = self._out.add_stream(codec, rate=rate)
        self._stream.width, self._stream.height, self._stream.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            self._stream.options = {"crf": _X264_CRF}
        else:
            # No CRF mode: ~0.5 bit per pixel keeps small frames clean.
            self._stream.bit_rate = max(1_000_000, int(w * h * float(rate) * 0.5))

    def write(self, frame: np.ndarray) -> None:
        picture = av.VideoFrame.from_ndarray(_pad_even(frame), format="rgb24")
        picture.pts, picture.time_base = self._index, self._time_base
        self._out.mux(self._stream.encode(picture))
        self._index += 1

    def finish(self) -> None:
        self._out.mux(self._stream.encode(None))  # flush the encoder's delayed frames
        self._out.close()

    def close(self) -> None:
        self._out.close()
