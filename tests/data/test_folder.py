"""Any folder of videos: action subfolders, a CSV index, or one action; splits and clips."""

import os
from pathlib import Path

import pytest

from keyvid.data.folder import assign_splits, prepare_folder
from keyvid.data.format import PreparedDataset, read_metadata
from keyvid.errors import KeyvidError
from keyvid.io import write_video
from tests.data.test_fomm import moving_square


def _videos(folder, names, frames=20, fps=25):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        write_video(folder / name, moving_square(frames, seed=i), fps=fps)


@pytest.fixture
def own(tmp_path):
    src = tmp_path / "my_videos"
    _videos(src / "Wave", [f"w{i}.mp4" for i in range(4)])
    _videos(src / "jump", [f"j{i}.mp4" for i in range(10)])
    return src


def _ids(root, split):
    data = PreparedDataset(root, split)
    return sorted((data.actions[v.action], v.id) for v in data.videos)


def test_action_subfolders_and_a_stable_split(own, tmp_path):
    report = prepare_folder(own, tmp_path / "a", size=16, fps=None, progress=False)
    assert PreparedDataset(tmp_path / "a", "train").actions == ["jump", "wave"]
    # ceil(10 % of 10) = 1 jump and ceil(10 % of 4) = 1 wave video in test.
    assert report.videos == {"train": 12, "test": 2}
    test_ids = _ids(tmp_path / "a", "test")
    assert [a for a, _ in test_ids] == ["jump", "wave"]
    # The same split from a relative path to SRC, and after moving SRC elsewhere.
    moved = tmp_path / "elsewhere" / "videos"
    moved.parent.mkdir()
    os.rename(own, moved)
    cwd = os.getcwd()
    os.chdir(moved.parent)
    try:
        prepare_folder("videos", tmp_path / "b", size=16, fps=None, progress=False)
    finally:
        os.chdir(cwd)
    assert _ids(tmp_path / "b", "test") == test_ids


def test_assign_splits_keeps_given_splits_and_one_train_video():
    entries = [(Path(f"v{i}.mp4"), "a", None) for i in range(3)]
    entries.append((Path("x.mp4"), "b", None))
    splits = assign_splits(entries, test_fraction=0.9)
    by_action = {}
    for _, action, split in splits:
        by_action.setdefault(action, []).append(split)
    assert sorted(by_action["a"]) == ["test", "test", "train"]  # at least one stays in train
    assert by_action["b"] == ["train"]  # a lone video trains


def test_csv_index_with_header_and_splits(own, tmp_path):
    csv = own / "index.csv"
    csv.write_text(
        "path,action,split\nWave/w0.mp4,wave,test\nWave/w1.mp4,wave,\njump/j0.mp4,Jump,train\n"
        "jump/j1.mp4,jump,train\n"
    )
    report = prepare_folder(csv, tmp_path / "c", size=16, fps=None, progress=False)
    assert report.videos == {"train": 3, "test": 1}
    assert _ids(tmp_path / "c", "test") == [("wave", "Wave/w0")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.mp4\n", r"index.csv:1: expected path,action\[,split\]"),
        ("a.mp4,wave,validation\n", "index.csv:1: split 'validation' is not train, test or empty"),
        ("path,action\n", "lists no videos"),
    ],
)
def test_bad_csv_rows_name_the_line(tmp_path, text, message):
    (tmp_path / "index.csv").write_text(text)
    with pytest.raises(KeyvidError, match=message):
        prepare_folder(tmp_path / "index.csv", tmp_path / "out", progress=False)


def test_layout_mistakes_say_what_to_do(own, tmp_path):
    (own / "empty_action").mkdir()
    with pytest.raises(KeyvidError, match=r"action folder .*empty_action holds no videos"):
        prepare_folder(own, tmp_path / "x", progress=False)
    flat = tmp_path / "flat"
    _videos(flat, ["a.mp4", "b.mp4"])
    with pytest.raises(
        KeyvidError, match=r"no action subfolders.*found 2 video\(s\).*--single-action"
    ):
        prepare_folder(flat, tmp_path / "x", progress=False)
    report = prepare_folder(flat, tmp_path / "x", single_action="dance", size=16, progress=False)
    assert PreparedDataset(tmp_path / "x", "train").actions == ["dance"]
    assert report.videos == {"train": 1, "test": 1}
    with pytest.raises(KeyvidError, match=r"neither a folder nor a \.csv file"):
        prepare_folder(flat / "a.mp4", tmp_path / "y", progress=False)


def test_fps_is_brought_down_and_long_videos_cut_into_clips(tmp_path):
    _videos(tmp_path / "src" / "run", ["long.mp4"], frames=60, fps=30)
    report = prepare_folder(
        tmp_path / "src", tmp_path / "d", size=16, fps=15, clip_frames=13, progress=False
    )
    data = PreparedDataset(tmp_path / "d", "train")
    # 60 frames at 30 fps -> 30 at 15 fps -> clips of 13, 17 (a remainder of 4 joins).
    assert [(v.id, v.num_frames) for v in data.videos] == [
        ("run/long#000", 13),
        ("run/long#001", 17),
    ]
    assert report.videos == {"train": 2}
    source = read_metadata(tmp_path / "d")["source"]
    assert source["fps"] == 15 and source["clip_frames"] == 13


def test_unreadable_and_missing_videos_are_skipped_never_silently(own, tmp_path, caplog):
    (own / "jump" / "bad.mp4").write_bytes(b"junk")
    report = prepare_folder(own, tmp_path / "d", size=16, progress=False)
    assert [s["id"] for s in report.skipped] == ["jump/bad"]
    assert "skipped jump/bad" in caplog.text and "cannot read video" in caplog.text
    csv = tmp_path / "index.csv"
    csv.write_text("my_videos/jump/j0.mp4,jump,train\nmy_videos/jump/gone.mp4,jump,test\n")
    report = prepare_folder(csv, tmp_path / "c", size=16, progress=False)
    assert [(s["id"], s["reason"].split(": ", 1)[1]) for s in report.skipped] == [
        ("my_videos/jump/gone", "no such file or folder; check the path")
    ]


def test_files_that_are_not_videos_are_named_in_a_warning(own, tmp_path, caplog):
    (own / "jump" / "notes.txt").write_text("shot on a phone\n")
    (own / "jump" / ".DS_Store").write_bytes(b"\0")
    report = prepare_folder(own, tmp_path / "d", size=16, fps=None, progress=False)
    assert "left out 1 file(s) that are not videos: notes.txt" in caplog.text
    assert report.videos == {"train": 12, "test": 2} and not report.skipped
