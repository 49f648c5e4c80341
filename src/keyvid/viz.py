"""Pictures for humans: keypoint overlays, grids, captions. numpy + Pillow only.

Every function takes and returns uint8 RGB arrays (float images in [0, 1] are
accepted and converted) and never modifies its input. Keypoints follow
``keyvid.coords``: normalised ``(x, y)`` in [-1, 1], -1/+1 = first/last pixel centre.
"""

from __future__ import annotations

import colorsys
import functools
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from keyvid.coords import to_pixels
from keyvid.io.image import as_rgb, to_uint8

_OUTLINE = (20, 20, 20)
_CAPTION_BG = (255, 255, 255)
_CAPTION_FG = (0, 0, 0)


def keypoint_colors(k: int) -> np.ndarray:
    """``(k, 3)`` uint8 colours with distinct hues.

    Hues go round the HSV wheel; neighbours alternate between full and 70 %
    value, so that with many keypoints (K = 40, 60) adjacent hues still differ.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    colors = np.zeros((k, 3), dtype=np.uint8)
    for i in range(k):
        value = 1.0 if i % 2 == 0 else 0.7
        rgb = colorsys.hsv_to_rgb(i / max(k, 1), 0.9, value)
        colors[i] = np.rint(np.array(rgb) * 255)
    return colors


def default_radius(size: tuple[int, int]) -> float:
    """Dot radius in pixels for an image of ``size=(H, W)``: 2 px at 64×64, growing with size."""
    return max(2.0, min(size) / 48.0)


def draw_keypoints(
    image: np.ndarray,
    keypoints: np.ndarray,
    *,
    radius: float | None = None,
    colors: np.ndarray | Sequence[int] | None = None,
    bones: Sequence[tuple[int, int]] | None = None,
) -> np.ndarray:
    """Return a copy of ``image`` with keypoints drawn as dots with a dark outline.

    ``keypoints`` is ``(K, 2)`` normalised ``(x, y)``; NaN rows are skipped
    (missing joints). ``colors`` is ``(K, 3)`` or one RGB triple; defaults to
    :func:`keypoint_colors`. ``bones`` is a list of ``(i, j)`` index pairs, e.g.
    ``keyvid.data.skeleton.BONES``, drawn as lines under the dots.
    """
    rgb = as_rgb(image)
    points = np.asarray(keypoints, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"keypoints must be (K, 2), got {points.shape}")
    h, w = rgb.shape[:2]
    r = default_radius((h, w)) if radius is None else float(radius)
    palette = _resolve_colors(colors, len(points))
    pixels = to_pixels(points, (h, w))
    canvas = Image.fromarray(rgb.copy())
    draw = ImageDraw.Draw(canvas)
    if bones:
        _draw_bones(draw, pixels, palette, bones, width=max(1, round(r * 0.6)))
    for (x, y), color in zip(pixels, palette, strict=True):
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        # Outline first as a larger dark disc: a 1 px ring survives at 64×64,
        # where Pillow's ellipse(width=1) would eat most of a 2 px dot.
        draw.ellipse((x - r - 1, y - r - 1, x + r + 1, y + r + 1), fill=_OUTLINE)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(c) for c in color))
    return np.asarray(canvas)


def _resolve_colors(colors: np.ndarray | Sequence[int] | None, k: int) -> np.ndarray:
    """``(K, 3)`` uint8 colours from None, one RGB triple or a ``(K, 3)`` array."""
    if colors is None:
        return keypoint_colors(k)
    palette = to_uint8(np.asarray(colors))
    if palette.shape == (3,):
        return np.tile(palette, (k, 1))
    if palette.shape != (k, 3):
        raise ValueError(f"colors must be (3,) or ({k}, 3), got {palette.shape}")
    return palette


def _draw_bones(
    draw: ImageDraw.ImageDraw,
    pixels: np.ndarray,
    palette: np.ndarray,
    bones: Sequence[tuple[int, int]],
    width: int,
) -> None:
    """Draw each bone in the colour of its second joint (the limb end it leads to)."""
    for i, j in bones:
        if not (0 <= i < len(pixels) and 0 <= j < len(pixels)):
            raise ValueError(f"bone ({i}, {j}) refers to a keypoint outside 0..{len(pixels) - 1}")
        ends = np.concatenate([pixels[i], pixels[j]])
        if np.isfinite(ends).all():
            draw.line(
                [tuple(pixels[i]), tuple(pixels[j])],
                fill=tuple(int(c) for c in palette[j]),
                width=width,
            )


def draw_keypoints_video(frames: np.ndarray, keypoints: np.ndarray, **kwargs) -> np.ndarray:
    """Draw ``(T, K, 2)`` keypoints on ``(T, H, W, 3)`` frames; ``(K, 2)`` is used for every frame.

    Keyword arguments are those of :func:`draw_keypoints`.
    """
    points = np.asarray(keypoints)
    if points.ndim == 2:
        points = np.broadcast_to(points, (len(frames), *points.shape))
    if len(points) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(points)} keypoint sets")
    return np.stack([draw_keypoints(f, p, **kwargs) for f, p in zip(frames, points, strict=True)])


def image_grid(
    images: Sequence[np.ndarray] | np.ndarray,
    *,
    ncols: int | None = None,
    pad: int = 2,
    pad_value: int = 255,
) -> np.ndarray:
    """Tile images into one ``(H', W', 3)`` image, row by row, with ``pad`` px around every cell.

    ``ncols`` defaults to ``ceil(sqrt(N))``. Images of different sizes are centred
    in cells of the largest size; empty cells are filled with ``pad_value``.
    """
    tiles = [as_rgb(im) for im in images]
    if not tiles:
        raise ValueError("image_grid needs at least one image")
    n = len(tiles)
    ncols = min(n, ncols or math.ceil(math.sqrt(n)))
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    nrows = math.ceil(n / ncols)
    ch = max(t.shape[0] for t in tiles)
    cw = max(t.shape[1] for t in tiles)
    grid = np.full(
        (nrows * (ch + pad) + pad, ncols * (cw + pad) + pad, 3), pad_value, dtype=np.uint8
    )
    for index, tile in enumerate(tiles):
        row, col = divmod(index, ncols)
        top = pad + row * (ch + pad) + (ch - tile.shape[0]) // 2
        left = pad + col * (cw + pad) + (cw - tile.shape[1]) // 2
        grid[top : top + tile.shape[0], left : left + tile.shape[1]] = tile
    return grid


def video_grid(
    videos: np.ndarray | Sequence[np.ndarray],
    *,
    ncols: int | None = None,
    pad: int = 2,
    pad_value: int = 255,
) -> np.ndarray:
    """Tile ``N`` videos ``(T_i, H, W, 3)`` into one ``(T, H', W', 3)`` video, ``T = max T_i``.

    Shorter videos hold their last frame, so every cell stays filled.
    """
    clips = [np.asarray(v) for v in videos]
    if not clips:
        raise ValueError("video_grid needs at least one video")
    if any(c.ndim not in (3, 4) or len(c) == 0 for c in clips):
        raise ValueError(f"videos must be non-empty (T, H, W, 3), got {[c.shape for c in clips]}")
    length = max(len(c) for c in clips)
    frames = []
    for t in range(length):
        cells = [c[min(t, len(c) - 1)] for c in clips]
        frames.append(image_grid(cells, ncols=ncols, pad=pad, pad_value=pad_value))
    return np.stack(frames)


def upscale(image_or_video: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement by an integer factor, for viewing 64×64 outputs.

    Accepts ``(H, W)``, ``(H, W, C)`` and ``(T, H, W, C)``; pixels stay sharp squares.
    """
    array = np.asarray(image_or_video)
    if int(factor) != factor or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor}")
    if array.ndim == 2:
        h_axis = 0
    elif array.ndim in (3, 4):
        h_axis = array.ndim - 3
    else:
        raise ValueError(f"expected (H, W), (H, W, C) or (T, H, W, C), got {array.shape}")
    factor = int(factor)
    return np.repeat(np.repeat(array, factor, axis=h_axis), factor, axis=h_axis + 1)


def label_image(image: np.ndarray, text: str) -> np.ndarray:
    """Return ``image`` with a white caption strip holding ``text`` on top (Pillow default font).

    Text wider than the image is cut and ends with ``...`` rather than widening it,
    so labelled images still tile into a grid.
    """
    rgb = as_rgb(image)
    h, w = rgb.shape[:2]
    font = _font()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text = _fit_text(probe, " ".join(str(text).split()), font, w - 4)
    # Height from a reference string, so captions of one grid share one strip height.
    _, top, _, bottom = probe.textbbox((0, 0), "Ag", font=font)
    strip = bottom - top + 4
    canvas = Image.new("RGB", (w, h + strip), _CAPTION_BG)
    canvas.paste(Image.fromarray(rgb), (0, strip))
    ImageDraw.Draw(canvas).text((2, 2 - top), text, fill=_CAPTION_FG, font=font)
    return np.asarray(canvas)


def bar_chart(
    values: dict[str, float], *, title: str = "", fmt: str = "{:.3g}", width: int = 480
) -> np.ndarray:
    """A horizontal bar chart of labelled values as an (H, W, 3) uint8 image (no plotting
    library needed); bars start at 0 and share one scale, negative values are drawn as 0."""
    if not values:
        raise ValueError("bar_chart needs at least one value")
    font = _font()
    row_h, label_w, value_w, pad = 22, 180, 70, 8
    top = row_h + pad if title else pad
    height = top + row_h * len(values) + pad
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((pad, pad), title, fill=_CAPTION_FG, font=font)
    peak = max(max(values.values()), 1e-12)
    span = width - label_w - value_w - 2 * pad
    for i, (label, value) in enumerate(values.items()):
        y = top + i * row_h
        draw.text(
            (pad, y + 5), _fit_text(draw, label, font, label_w - pad), fill=_CAPTION_FG, font=font
        )
        length = round(span * max(value, 0.0) / peak)
        x0 = pad + label_w
        draw.rectangle((x0, y + 3, x0 + max(length, 1), y + row_h - 3), fill=(70, 110, 180))
        draw.text((x0 + length + 4, y + 5), fmt.format(value), fill=_CAPTION_FG, font=font)
    return np.asarray(canvas)


@functools.cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in font (no font files to ship or find)."""
    return ImageFont.load_default()


def _fit_text(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    max_width: int,
) -> str:
    """Cut ``text`` so it fits ``max_width`` pixels, marking the cut with ``...``."""
    if draw.textlength(text, font=font) <= max_width:
        return text
    while text and draw.textlength(text + "...", font=font) > max_width:
        text = text[:-1]
    return text + "..."
