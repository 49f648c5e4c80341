"""Square crops of source frames, resized to the dataset's resolution.

A :class:`Box` is a square in the source frame's continuous pixel coordinates
(pixel ``i`` covers ``[i, i + 1)``, Pillow's convention). Every source adapter
chooses one box per video, so the background stays still as the translator's
mask expects (paper Eqs. 3-4), and joints are moved into the crop with the
exact same mapping as the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from keyvid.coords import to_normalized

# Room around the actor's box: the union of a video's boxes is tight on the
# extreme poses, and limbs stick out of hand-drawn boxes by a few pixels.
ACTOR_MARGIN = 0.1


@dataclass(frozen=True)
class Box:
    """A square crop: left, top and side in source pixels (continuous coordinates)."""

    x0: float
    y0: float
    side: float


def center_box(height: int, width: int) -> Box:
    """The largest centred square (the authors' test-time crop for Penn Action)."""
    side = min(height, width)
    return Box((width - side) / 2.0, (height - side) / 2.0, float(side))


def box_around(
    xmin: float,
    ymin: float,
    xmax: float,
    ymax: float,
    *,
    height: int,
    width: int,
    margin: float = ACTOR_MARGIN,
) -> Box:
    """A square holding the rectangle plus ``margin`` of its longer side on each side,
    centred on it, no larger than the frame's short side and shifted to lie inside the
    frame (so a tall box in a wide frame keeps the actor whole, and no padding is needed).
    """
    side = max(xmax - xmin, ymax - ymin) * (1.0 + 2.0 * margin)
    side = float(min(max(side, 1.0), height, width))
    cx, cy = (xmin + xmax) / 2.0, (ymin + ymax) / 2.0
    x0 = float(np.clip(cx - side / 2.0, 0.0, width - side))
    y0 = float(np.clip(cy - side / 2.0, 0.0, height - side))
    return Box(x0, y0, side)


def crop_resize(frame: np.ndarray, box: Box, size: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> the box's content at ``(size, size, 3)`` uint8.

    Bicubic with Pillow's support widened on downscaling, so a 480-pixel crop
    shrunk to 128 is antialiased rather than aliased.
    """
    image = Image.fromarray(frame)
    box = (box.x0, box.y0, box.x0 + box.side, box.y0 + box.side)
    return np.asarray(image.resize((size, size), Image.Resampling.BICUBIC, box=box))


def points_into_box(points: np.ndarray, box: Box, size: int) -> np.ndarray:
    """Pixel-centre coordinates ``(..., 2)`` of the source (0-based, pixel ``i``'s centre
    at ``i``) -> keyvid's normalised coordinates in the ``size × size`` crop. NaN stays NaN.
    """
    continuous = np.asarray(points, dtype=np.float64) + 0.5 - (box.x0, box.y0)
    pixels = continuous * (size / box.side) - 0.5  # pixel-centre coordinates in the crop
    return to_normalized(pixels.astype(np.float32), (size, size))
