import json
import logging
from pathlib import Path

import numpy as np
import pytest

from keyvid.data.format import PreparedDataset
from keyvid.data.sources import Clip, SourceVideo, split_clips, write_sources
from keyvid.errors import KeyvidError


def _clip(frames: int, size: int = 8) -> Clip:
    video = np.arange(frames, dtype=np.uint8)[:, None, None, None] * np.ones(
        (1, size, size, 3), dtype=np.uint8
    )
    return Clip(video)


def _source(split, vid, frames, action=0):
    return SourceVideo(split, vid, action, Path(vid), lambda: _clip(frames))


def _broken(split, vid):
    def read():
        raise KeyvidError(f"{vid} is corrupt")

    return SourceVideo(split, vid, 0, Path(vid), read)


@pytest.mark.parametrize(
    ("frames", "lengths"),
    # Whole below 1.5 clips; a remainder under half a clip joins the clip before it.
    [(11, [11]), (12, [8, 4]), (15, [8, 7]), (16, [8, 8]), (19, [8, 11]), (20, [8, 8, 4])],
)
def test_split_clips_lengths_and_order(frames, lengths):
    clips = split_clips(_clip(frames), 8)
    assert [len(c.frames) for c in clips] == lengths
    assert np.concatenate([c.frames[:, 0, 0, 0] for c in clips]).tolist() == list(range(frames))


def test_split_clips_none_keeps_the_video_whole():
    assert len(split_clips(_clip(100), None)) == 1


def test_bad_and_short_videos_are_skipped_counted_and_recorded(tmp_path, caplog):
    videos = [
        _source("train", "good", 10),
        _broken("train", "bad"),
        _source("train", "short", 3),
        _source("test", "t", 9),
    ]
    with caplog.at_level(logging.WARNING, logger="keyvid.data"):
        report = write_sources(
            videos, tmp_path / "d", actions=["a"], size=8, min_frames=5, progress=False
        )
    assert report.videos == {"train": 1, "test": 1} and report.frames == {"train": 10, "test": 9}
    assert [s["id"] for s in report.skipped] == ["bad", "short"]
    assert "bad is corrupt" in caplog.text and "3 frames, fewer than 5" in caplog.text
    meta = json.loads((tmp_path / "d" / "dataset.json").read_text())
    assert [s["id"] for s in meta["source"]["skipped"]] == ["bad", "short"]
    assert [v.id for v in PreparedDataset(tmp_path / "d", "train").videos] == ["good"]
    assert "skipped 2" in report.summary()


def test_long_videos_become_clips_with_numbered_ids(tmp_path):
    report = write_sources(
        [_source("train", "long", 19)],
        tmp_path / "d",
        actions=["a"],
        size=8,
        clip_frames=8,
        progress=False,
    )
    data = PreparedDataset(tmp_path / "d", "train")
    assert [(v.id, v.num_frames) for v in data.videos] == [
        ("long#000", 8),
        ("long#001", 11),
    ] and report.videos == {"train": 2}


def test_nothing_usable_writes_nothing(tmp_path):
    with pytest.raises(KeyvidError, match="none of the 2 source videos could be used"):
        write_sources(
            [_broken("train", "a"), _broken("test", "b")],
            tmp_path / "d",
            actions=["a"],
            size=8,
            progress=False,
        )
    assert not (tmp_path / "d").exists()
    assert not list(tmp_path.iterdir())  # no hidden partial folder either


def test_duplicate_ids_are_refused_before_any_work(tmp_path):
    with pytest.raises(KeyvidError, match="two videos have the id 'x' in train"):
        write_sources(
            [_source("train", "x", 9), _source("train", "x", 9)],
            tmp_path / "d",
            actions=["a"],
            size=8,
            progress=False,
        )
