"""Image I/O: every kind of image becomes (H, W, 3) uint8 RGB; writes are atomic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keyvid.errors import KeyvidError
from keyvid.io import read_image, write_image
from keyvid.io.image import to_uint8


def random_image(h: int = 9, w: int = 13) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tiff"])
def test_lossless_round_trip(tmp_path: Path, suffix: str) -> None:
    image = random_image()
    path = write_image(tmp_path / f"img{suffix}", image)
    back = read_image(path)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, image)


def test_jpeg_round_trip_is_close(tmp_path: Path) -> None:
    image = np.full((16, 16, 3), (200, 120, 40), np.uint8)
    back = read_image(write_image(tmp_path / "img.jpg", image))
    assert np.abs(back.astype(int) - image).max() <= 3


def test_float_and_greyscale_input(tmp_path: Path) -> None:
    back = read_image(write_image(tmp_path / "f.png", np.full((4, 5, 3), 0.5)))
    np.testing.assert_array_equal(back, 128)
    back = read_image(write_image(tmp_path / "g.png", np.full((4, 5), 7, np.uint8)))
    assert back.shape == (4, 5, 3)
    np.testing.assert_array_equal(back, 7)


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    rgba[1, 1] = (0, 0, 0, 0)  # fully transparent black
    rgba[0, 1] = (0, 0, 0, 128)  # half-transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    image = read_image(tmp_path / "a.png")
    assert image.shape == (2, 2, 3)
    np.testing.assert_array_equal(image[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(image[1, 1], [255, 255, 255])
    assert 120 <= image[0, 1, 0] <= 135


def test_palette_with_transparency(tmp_path: Path) -> None:
    image = Image.new("P", (3, 1), 0)
    image.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    image.putpixel((1, 0), 1)
    image.save(tmp_path / "p.png", transparency=0)
    rgb = read_image(tmp_path / "p.png")
    np.testing.assert_array_equal(rgb[0], [[255, 255, 255], [0, 200, 0], [255, 255, 255]])


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    rgb = read_image(tmp_path / "deep.png")
    np.testing.assert_array_equal(rgb[0, :, 0], [0, 100, 255])


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    stored = np.zeros((4, 6, 3), np.uint8)
    stored[0, 0] = 255  # white top-left pixel in the stored (sideways) data
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    image.save(tmp_path / "phone.png", exif=exif)
    upright = read_image(tmp_path / "phone.png")
    assert upright.shape == (6, 4, 3)
    np.testing.assert_array_equal(upright[0, -1], [255, 255, 255])  # now top-right


def test_missing_image(tmp_path: Path) -> None:
    path = tmp_path / "nope.png"
    with pytest.raises(KeyvidError, match="no such file") as exc:
        read_image(path)
    assert str(path) in str(exc.value)


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not pixels")
    with pytest.raises(KeyvidError, match="not a readable image") as exc:
        read_image(path)
    assert str(path) in str(exc.value)


def test_truncated_image(tmp_path: Path) -> None:
    path = write_image(tmp_path / "cut.png", random_image(64, 64))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(KeyvidError, match="corrupt or truncated"):
        read_image(path)


def test_folder_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(KeyvidError, match="is a folder"):
        read_image(tmp_path)


def test_write_unknown_suffix_and_unwritable(tmp_path: Path) -> None:
    with pytest.raises(KeyvidError, match="unknown image suffix"):
        write_image(tmp_path / "img.xyz", random_image())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(KeyvidError, match="cannot write there"):
        write_image(blocker / "img.png", random_image())


def test_write_is_atomic(tmp_path: Path) -> None:
    path = write_image(tmp_path / "deep" / "img.png", random_image())
    write_image(path, random_image(3, 3))
    assert read_image(path).shape == (3, 3, 3)
    assert [p.name for p in path.parent.iterdir()] == ["img.png"]


def test_to_uint8() -> None:
    np.testing.assert_array_equal(
        to_uint8(np.array([-1.0, 0.0, 0.5, 2.0, np.nan])), [0, 0, 128, 255, 0]
    )
    np.testing.assert_array_equal(to_uint8(np.array([True, False])), [255, 0])
    np.testing.assert_array_equal(to_uint8(np.array([-5, 300])), [0, 255])


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    import numpy as np

    from keyvid.io import write_image

    path = write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
