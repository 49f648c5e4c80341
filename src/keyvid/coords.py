"""Keypoint coordinate convention shared by every module.

Keypoints and joints are ``(x, y)`` pairs normalised to [-1, 1] with the
``align_corners=True`` convention of ``torch.nn.functional.grid_sample``:
-1 is the centre of the first pixel and +1 the centre of the last one. This is
what a soft-argmax over ``linspace(-1, 1, W)`` returns (paper Eq. 1), and it
stays valid when an image is resized, so no module needs to know a resolution
to exchange keypoints.
"""

from __future__ import annotations

import numpy as np


def to_pixels(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Normalised (..., 2) ``(x, y)`` -> pixel coordinates for an image of ``size=(H, W)``."""
    h, w = size
    scale = np.array([(w - 1) / 2.0, (h - 1) / 2.0], dtype=np.float32)
    return (np.asarray(points, dtype=np.float32) + 1.0) * scale


def to_normalized(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Pixel (..., 2) ``(x, y)`` -> normalised coordinates for an image of ``size=(H, W)``."""
    h, w = size
    scale = np.array([(w - 1) / 2.0, (h - 1) / 2.0], dtype=np.float32)
    return np.asarray(points, dtype=np.float32) / scale - 1.0
