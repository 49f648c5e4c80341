"""First Order Motion Model's layout: train/ and test/ of frame folders, video files, strips."""

import numpy as np
import pytest

from keyvid.data.crop import center_box, crop_resize
from keyvid.data.fomm import prepare_fomm
from keyvid.data.format import PreparedDataset, read_metadata
from keyvid.errors import KeyvidError
from keyvid.io import write_video
from keyvid.io.image import write_image


def moving_square(frames: int, size: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    video = np.full((frames, size, size, 3), 255, dtype=np.uint8)
    colour = rng.integers(0, 200, size=3)
    for t in range(frames):
        video[t, 8:16, t % (size - 8) : t % (size - 8) + 8] = colour
    return video


@pytest.fixture
def fomm_src(tmp_path):
    src = tmp_path / "moving-gif"
    (src / "train" / "frames_a").mkdir(parents=True)
    for i, frame in enumerate(moving_square(10)):
        write_image(src / "train" / "frames_a" / f"{i:07d}.png", frame)
    write_video(src / "train" / "b.mp4", moving_square(12, seed=1), fps=25)
    write_video(src / "train" / "c.gif", moving_square(9, seed=2), fps=10)
    strip = moving_square(8, seed=3).transpose(1, 0, 2, 3).reshape(24, 8 * 24, 3)
    write_image(src / "train" / "d.png", strip)  # FOMM's .png videos: frames side by side
    (src / "test").mkdir()
    write_video(src / "test" / "e.mp4", moving_square(10, seed=4), fps=25)
    return src


def test_every_kind_of_video_is_read_as_one_action(fomm_src, tmp_path):
    report = prepare_fomm(fomm_src, tmp_path / "mgif", size=16, progress=False)
    assert report.videos == {"train": 4, "test": 1} and not report.skipped
    train = PreparedDataset(tmp_path / "mgif", "train")
    assert train.actions == ["moving_gif"] and train.joint_names is None
    assert [(v.id, v.num_frames) for v in train.videos] == [
        ("b", 12),
        ("c", 9),
        ("d", 8),
        ("frames_a", 10),
    ]
    assert train.frames(2).shape == (8, 16, 16, 3)
    # The strip's frames are the original frames, in order (resized 24 -> 16).
    expected = [crop_resize(f, center_box(24, 24), 16) for f in moving_square(8, seed=3)]
    np.testing.assert_array_equal(train.frames(2), np.stack(expected))
    assert read_metadata(tmp_path / "mgif")["source"]["kind"] == "fomm"


def test_single_action_names_the_action(fomm_src, tmp_path):
    prepare_fomm(fomm_src, tmp_path / "d", single_action="Walk Cycle", size=16, progress=False)
    assert PreparedDataset(tmp_path / "d", "test").actions == ["walk_cycle"]


def test_bad_videos_are_skipped_and_counted(fomm_src, tmp_path):
    (fomm_src / "train" / "broken.mp4").write_bytes(b"\x00" * 100)
    write_video(fomm_src / "train" / "short.mp4", moving_square(3), fps=25)
    report = prepare_fomm(fomm_src, tmp_path / "d", size=16, progress=False)
    reasons = {s["id"]: s["reason"] for s in report.skipped}
    assert set(reasons) == {"broken", "short"}
    assert "cannot read video" in reasons["broken"] and "3 frames, fewer than 8" in reasons["short"]
    assert report.videos["train"] == 4


def test_duplicate_ids_and_wrong_layouts_are_refused(fomm_src, tmp_path):
    write_video(fomm_src / "train" / "b.gif", moving_square(9), fps=10)
    with pytest.raises(KeyvidError, match="two videos have the id 'b' in train"):
        prepare_fomm(fomm_src, tmp_path / "d", size=16, progress=False)
    (tmp_path / "flat").mkdir()
    write_video(tmp_path / "flat" / "x.mp4", moving_square(9), fps=25)
    with pytest.raises(KeyvidError, match=r"expected the folders train/ and test/.*found: x.mp4"):
        prepare_fomm(tmp_path / "flat", tmp_path / "d2", progress=False)
    assert not (tmp_path / "d").exists() and not (tmp_path / "d2").exists()


def test_real_clips_in_the_fomm_layout(real_clips_dir, tmp_path):
    src = tmp_path / "nemo"
    (src / "train").mkdir(parents=True)
    (src / "test").mkdir()
    (src / "train" / "carphone.mp4").symlink_to(real_clips_dir / "carphone_pristine.mp4")
    (src / "train" / "bikes.mp4").symlink_to(real_clips_dir / "bikes.mp4")
    (src / "test" / "bunny.mp4").symlink_to(real_clips_dir / "bigbuckbunny.mp4")
    report = prepare_fomm(src, tmp_path / "d", single_action="smile", size=32, progress=False)
    # Whole videos (FOMM's are clips already): 120 and 250 frames, 132 in test.
    assert report.videos == {"train": 2, "test": 1} and report.frames == {"train": 370, "test": 132}
    test = PreparedDataset(tmp_path / "d", "test")
    assert test.actions == ["smile"] and test.frames(0).shape == (132, 32, 32, 3)
