"""Still images in and out: every image becomes ``(H, W, 3)`` uint8 RGB.

Transparency policy: images with an alpha channel (RGBA, LA, palette with a
transparent index) are composited over **white**, not stripped. Stripping alpha
exposes whatever colour the hidden pixels happen to hold (often black, or
garbage), while sprites and cartoon frames are drawn to be seen on a light page.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from keyvid.errors import KeyvidError

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
)

# Pillow's JPEG default (75) visibly smears small 64×64 frames.
_JPEG_QUALITY = 95


def to_uint8(array: np.ndarray) -> np.ndarray:
    """Return ``array`` as uint8: floats are read as [0, 1], bools as 0/255, ints are clipped."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        # nan_to_num: a NaN pixel from a diverged model should not crash a preview.
        scaled = np.nan_to_num(array, nan=0.0) * 255.0
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        return np.clip(array, 0, 255).astype(np.uint8)
    raise ValueError(f"cannot convert an array of dtype {array.dtype} to an image")


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Return a ``(H, W, 3)`` uint8 copy-or-view of a greyscale, RGB or RGBA array."""
    image = to_uint8(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image, got {image.shape}"
        )
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if image.shape[2] == 4:
        return pil_to_rgb(Image.fromarray(image, mode="RGBA"))
    return image


def pil_to_rgb(image: Image.Image) -> np.ndarray:
    """Convert any Pillow image to ``(H, W, 3)`` uint8 RGB (alpha over white, 16-bit scaled)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # Pillow's convert("L") clips 16-bit values at 255 instead of scaling them.
        values = np.asarray(image).astype(np.float64)
        grey = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode == "F":
        # 32-bit float images (TIFF) are taken to hold [0, 1] intensities.
        return np.repeat(to_uint8(np.asarray(image))[:, :, None], 3, axis=2)
    if (image.mode == "P" and "transparency" in image.info) or image.mode in ("PA", "LA", "La"):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "RGBa"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


# Refused above this: such an image decodes to gigabytes (and is Pillow's "decompression
# bomb" territory), while every model here reads 64-256 pixels a side.
MAX_IMAGE_PIXELS = 50_000_000


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB.

    EXIF orientation is applied (phone photos come out upright), transparency is
    composited over white, greyscale/palette/16-bit images become 8-bit RGB. A
    multi-frame file (animated GIF/PNG) gives its first frame. Images of more than
    ``MAX_IMAGE_PIXELS`` pixels are refused.
    """
    path = Path(path)
    if not path.exists():
        raise KeyvidError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise KeyvidError(f"{path}: is a folder, not an image; pass an image file")
    try:
        with Image.open(path) as image:
            w, h = image.size
            if w * h > MAX_IMAGE_PIXELS:
                raise KeyvidError(
                    f"{path}: {w}×{h} is larger than keyvid reads ({MAX_IMAGE_PIXELS // 10**6} "
                    "megapixels); resize it first (the models work at 64-256 pixels)"
                )
            image.load()
            image = ImageOps.exif_transpose(image)
            return pil_to_rgb(image)
    except UnidentifiedImageError:
        raise KeyvidError(
            f"{path}: not a readable image; pass a PNG, JPEG, BMP, WebP or TIFF file"
        ) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # Pillow reports truncated or damaged data as OSError/SyntaxError at load().
        raise KeyvidError(
            f"{path}: the image is corrupt or truncated ({exc}); re-export it"
        ) from exc


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Write an image atomically; the format follows the suffix. Returns the path.

    ``image`` is ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``; floats are read as [0, 1].
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise KeyvidError(
            f"{path}: unknown image suffix {suffix!r}; "
            f"use one of {', '.join(sorted(IMAGE_SUFFIXES))}"
        )
    pil = Image.fromarray(as_rgb(image))
    options = {"quality": _JPEG_QUALITY} if suffix in (".jpg", ".jpeg", ".webp") else {}
    with atomic_output(path) as tmp:
        pil.save(tmp, format=Image.registered_extensions()[suffix], **options)
    return path


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` only on success.

    A crash or Ctrl-C mid-write therefore never leaves a half-written file under
    the final name, which a later run would mistake for a finished output.
    """
    tmp = _make_temp(path)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the output the usual permissions instead.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _make_temp(path: Path) -> Path:
    """Create an empty temp file in ``path``'s folder (created if missing), with the same suffix."""
    if path.is_dir():
        raise KeyvidError(f"{path}: is an existing folder; give a file name for the output")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            dir=parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}"
        )
    except OSError as exc:
        raise KeyvidError(
            f"{path}: cannot write there ({exc.strerror or exc}); choose a folder you can write to"
        ) from exc
    os.close(fd)
    return Path(name)
