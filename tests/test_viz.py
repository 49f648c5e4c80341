"""Visualisation helpers: colours, keypoint dots at the right pixels, grid shapes."""

from __future__ import annotations

import numpy as np
import pytest

from keyvid.coords import to_normalized
from keyvid.data.skeleton import BONES, NUM_JOINTS
from keyvid.viz import (
    draw_keypoints,
    draw_keypoints_video,
    image_grid,
    keypoint_colors,
    label_image,
    upscale,
    video_grid,
)


@pytest.mark.parametrize("k", [1, 2, 13, 40, 60])
def test_keypoint_colors_are_distinct(k: int) -> None:
    colors = keypoint_colors(k)
    assert colors.shape == (k, 3)
    assert colors.dtype == np.uint8
    assert len({tuple(c) for c in colors}) == k
    if k > 1:  # neighbours (the ones most often confused) are clearly apart
        gaps = np.abs(np.diff(colors.astype(int), axis=0)).sum(axis=1)
        assert gaps.min() > 40


def test_keypoint_colors_empty() -> None:
    assert keypoint_colors(0).shape == (0, 3)


def test_keypoint_lands_on_the_right_pixel() -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    pixel = np.array([[40.0, 10.0], [5.0, 58.0]])  # (x, y)
    points = to_normalized(pixel, (64, 64))
    colors = np.array([[255, 0, 0], [0, 255, 0]], np.uint8)
    out = draw_keypoints(image, points, colors=colors)
    np.testing.assert_array_equal(out[10, 40], [255, 0, 0])
    np.testing.assert_array_equal(out[58, 5], [0, 255, 0])
    assert out[30, 30].sum() == 0  # far from both dots: untouched
    assert image.sum() == 0  # input not modified


def test_corners_of_the_convention() -> None:
    """(-1, -1) is the first pixel's centre and (1, 1) the last one's (align_corners=True)."""
    image = np.zeros((32, 48, 3), np.uint8)
    out = draw_keypoints(image, np.array([[-1.0, -1.0], [1.0, 1.0]]), colors=(0, 0, 255))
    np.testing.assert_array_equal(out[0, 0], [0, 0, 255])
    np.testing.assert_array_equal(out[31, 47], [0, 0, 255])


def test_small_image_dot_is_visible_with_dark_outline() -> None:
    image = np.full((64, 64, 3), 255, np.uint8)
    out = draw_keypoints(image, np.zeros((1, 2)), colors=(255, 255, 0))
    changed = np.any(out != image, axis=2)
    assert 9 <= changed.sum() <= 80  # a few pixels across, not a blob
    dark = (out.astype(int).sum(axis=2) < 100) & changed
    assert dark.sum() >= 4  # outline separates the dot from a light background


def test_radius_scales_with_image_size() -> None:
    small = draw_keypoints(np.zeros((64, 64, 3), np.uint8), np.zeros((1, 2)))
    large = draw_keypoints(np.zeros((512, 512, 3), np.uint8), np.zeros((1, 2)))
    assert large.any(axis=2).sum() > 4 * small.any(axis=2).sum()


def test_nan_keypoints_are_skipped_and_bones_drawn() -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    points = np.zeros((NUM_JOINTS, 2), np.float32)
    points[:, 0] = np.linspace(-0.8, 0.8, NUM_JOINTS)
    points[3] = np.nan
    without = draw_keypoints(image, points, radius=1)
    with_bones = draw_keypoints(image, points, radius=1, bones=BONES)
    assert with_bones.any(axis=2).sum() >= without.any(axis=2).sum()
    with pytest.raises(ValueError, match="bone"):
        draw_keypoints(image, points[:2], bones=[(0, 5)])


def test_draw_keypoints_accepts_float_images() -> None:
    out = draw_keypoints(np.zeros((16, 16, 3), np.float32), np.zeros((1, 2)))
    assert out.dtype == np.uint8
    assert out.shape == (16, 16, 3)


def test_draw_keypoints_video() -> None:
    frames = np.zeros((4, 32, 32, 3), np.uint8)
    points = np.zeros((4, 2, 2), np.float32)
    points[:, 0, 0] = np.linspace(-0.5, 0.5, 4)
    out = draw_keypoints_video(frames, points)
    assert out.shape == frames.shape
    assert not np.array_equal(out[0], out[3])  # the dot moved
    shared = draw_keypoints_video(frames, points[0])
    np.testing.assert_array_equal(shared[0], shared[3])


def test_image_grid_shape_and_layout() -> None:
    images = np.stack([np.full((8, 10, 3), 10 * (i + 1), np.uint8) for i in range(5)])
    grid = image_grid(images, ncols=3, pad=2, pad_value=255)
    assert grid.shape == (2 * 8 + 3 * 2, 3 * 10 + 4 * 2, 3)
    np.testing.assert_array_equal(grid[2, 2], [10, 10, 10])  # first cell
    np.testing.assert_array_equal(grid[2 + 8 + 2, 2 + 10 + 2], [50, 50, 50])  # second row
    np.testing.assert_array_equal(grid[-3, -3], [255, 255, 255])  # empty last cell


def test_image_grid_default_columns_and_float_input() -> None:
    grid = image_grid([np.ones((4, 4, 3)) * 0.5 for _ in range(4)], pad=0)
    assert grid.shape == (8, 8, 3)
    assert grid.dtype == np.uint8
    np.testing.assert_array_equal(grid, 128)


def test_video_grid_pads_shorter_videos_with_last_frame() -> None:
    short = np.stack([np.full((6, 6, 3), v, np.uint8) for v in (10, 20)])
    long = np.stack([np.full((6, 6, 3), v, np.uint8) for v in (30, 40, 50, 60)])
    grid = video_grid([short, long], ncols=2, pad=1)
    assert grid.shape == (4, 6 + 2, 2 * 6 + 3, 3)
    np.testing.assert_array_equal(grid[:, 1, 1, 0], [10, 20, 20, 20])
    np.testing.assert_array_equal(grid[:, 1, 8, 0], [30, 40, 50, 60])


def test_video_grid_from_array() -> None:
    videos = np.zeros((3, 5, 8, 8, 3), np.uint8)
    assert video_grid(videos, pad=0).shape == (5, 16, 16, 3)


def test_upscale_image_and_video() -> None:
    image = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    big = upscale(image, 3)
    assert big.shape == (6, 6, 3)
    np.testing.assert_array_equal(big[:3, :3], np.broadcast_to(image[0, 0], (3, 3, 3)))
    assert upscale(np.zeros((4, 2, 2, 3)), 2).shape == (4, 4, 4, 3)
    assert upscale(np.zeros((2, 5)), 2).shape == (4, 10)
    with pytest.raises(ValueError):
        upscale(image, 0)


def test_label_image_adds_caption_strip() -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    out = label_image(image, "tennis serve, sample 3 of 8")
    extra = out.shape[0] - 64
    assert out.shape[1:] == (64, 3) and 8 <= extra <= 30
    np.testing.assert_array_equal(out[extra:], image)
    strip = out[:extra]
    assert (strip < 128).any() and (strip == 255).any()  # dark text on white
    # Captions of one grid share a strip height, so labelled images still tile.
    assert label_image(image, "a").shape == out.shape
