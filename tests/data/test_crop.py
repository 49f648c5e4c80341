import numpy as np
import pytest

from keyvid.data.crop import Box, box_around, center_box, crop_resize, points_into_box


def test_center_box_is_the_largest_centred_square():
    assert center_box(80, 120) == Box(20.0, 0.0, 80.0)
    assert center_box(120, 80) == Box(0.0, 20.0, 80.0)


def test_box_around_adds_margin_and_stays_inside_the_frame():
    box = box_around(50, 10, 70, 50, height=100, width=200, margin=0.1)
    assert box.side == pytest.approx(48.0)  # the longer side 40, plus 10 % on each side
    assert (box.x0 + box.side / 2, box.y0 + box.side / 2) == pytest.approx((60.0, 30.0))
    near_edge = box_around(0, 0, 30, 90, height=100, width=200)
    assert near_edge.side == 100.0  # capped at the short side
    assert near_edge.x0 == 0.0 and near_edge.y0 == 0.0  # shifted in, not padded


@pytest.mark.parametrize("size", [16, 32])
def test_points_follow_the_pixels_through_crop_and_resize(size):
    # A bright 3×3 blob in a 90×160 frame: after the crop and resize, the brightest
    # output pixel sits where points_into_box puts the blob's centre.
    frame = np.zeros((90, 160, 3), dtype=np.uint8)
    frame[40:43, 100:103] = 255
    box = box_around(80, 20, 130, 80, height=90, width=160)
    out = crop_resize(frame, box, size)
    assert out.shape == (size, size, 3) and out.dtype == np.uint8
    x, y = points_into_box(np.array([[101.0, 41.0]]), box, size)[0]  # pixel centre of the blob
    gray = out.astype(float).sum(axis=2)
    yy, xx = np.mgrid[:size, :size]
    centre = np.array([(gray * xx).sum(), (gray * yy).sum()]) / gray.sum()
    expected = (np.array([x, y]) + 1) / 2 * (size - 1)
    np.testing.assert_allclose(centre, expected, atol=0.3)


def test_nan_points_stay_nan():
    out = points_into_box(np.array([[np.nan, np.nan], [5.0, 5.0]]), Box(0, 0, 10), 8)
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()
