"""Property-based: any bytes given as an image either read as (H, W, 3) uint8 RGB or stop
with a KeyvidError; images of every common mode and size read; huge ones are refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from keyvid.errors import KeyvidError
from keyvid.io.image import MAX_IMAGE_PIXELS, read_image

SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def check(path) -> None:
    try:
        rgb = read_image(path)
    except KeyvidError:
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_any_bytes_read_or_are_refused(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("img") / "x.png"
    path.write_bytes(data)
    check(path)


@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")  # cut TIFFs warn
@SETTINGS
@given(
    mode=st.sampled_from(["RGB", "RGBA", "L", "LA", "P", "I;16", "I", "F", "1", "CMYK"]),
    fmt=st.sampled_from(["PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF"]),
    w=st.integers(1, 40),
    h=st.integers(1, 40),
    cut=st.one_of(st.none(), st.floats(0.1, 0.95)),
)
def test_images_of_any_mode_and_size_or_cut_short(tmp_path_factory, mode, fmt, w, h, cut):
    rng = np.random.default_rng(w * 41 + h)
    image = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).convert(mode)
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt)
    except (OSError, ValueError, KeyError):
        return  # Pillow cannot write that mode in that format: nothing to read
    data = buffer.getvalue()
    if cut is not None:
        data = data[: max(1, int(len(data) * cut))]
    path = tmp_path_factory.mktemp("img") / f"x.{fmt.lower()}"
    path.write_bytes(data)
    if cut is None:
        rgb = read_image(path)  # a whole file always reads
        assert rgb.shape == (h, w, 3) and rgb.dtype == np.uint8
    else:
        check(path)


def test_a_huge_image_is_refused_before_it_is_decoded(tmp_path):
    side = int(MAX_IMAGE_PIXELS**0.5) + 1  # header says side × side; the data is never read
    path = tmp_path / "huge.png"
    Image.new("1", (side, side)).save(path)
    with pytest.raises(KeyvidError, match="megapixels"):
        read_image(path)
