"""Pseudo-label extraction: every frame's keypoints stored with the dataset, resumable."""

from __future__ import annotations

import json

import numpy as np
import pytest

import keyvid.pipeline.pseudolabels as pseudolabels
from keyvid.data.format import PreparedDataset
from keyvid.errors import KeyvidError
from keyvid.metrics.keypoints import detect_rows
from keyvid.pipeline.pseudolabels import extract_keypoints
from tests.pipeline.tiny import tiny_detector

SOURCE = {"checkpoint": "runs/a/checkpoints/step_00000001", "step": 1}


@pytest.fixture(scope="module")
def detector():
    return tiny_detector(num_keypoints=4, image_size=16)


def all_rows(data: PreparedDataset) -> np.ndarray:
    return np.arange(sum(v.num_frames for v in data.videos))


def extract(detector, root, name="stage1", source=SOURCE, **kw):
    return extract_keypoints(detector, root, name=name, source=source, progress=False, **kw)


def test_every_frame_of_every_split(detector, dot_dataset):
    paths = extract(detector, dot_dataset)
    assert set(paths) == {"train", "test"}
    for split, path in paths.items():
        data = PreparedDataset(dot_dataset, split)
        assert path == dot_dataset / split / "keypoints" / "stage1.npy"
        labels = np.load(path)
        rows = all_rows(data)
        assert labels.shape == (len(rows), 4, 2) and labels.dtype == np.float32
        np.testing.assert_allclose(labels, detect_rows(detector, data, rows), atol=1e-6)
        meta = json.loads(path.with_suffix(".json").read_text())
        assert meta == {**SOURCE, "num_keypoints": 4, "image_size": 16}
        assert data.keypoint_sets() == ["stage1"]
        assert not list(path.parent.glob(".*"))  # no partial files left behind


def test_only_the_splits_asked_for(detector, dot_dataset):
    assert set(extract(detector, dot_dataset, splits=("test",))) == {"test"}
    assert not (dot_dataset / "train" / "keypoints" / "stage1.npy").exists()


def test_a_finished_set_is_kept_for_the_same_source(detector, dot_dataset, capsys):
    path = extract(detector, dot_dataset)["train"]
    before = path.stat().st_mtime_ns
    capsys.readouterr()
    extract(detector, dot_dataset)
    assert "already extracted" in capsys.readouterr().out
    assert path.stat().st_mtime_ns == before


def test_another_source_needs_overwrite(detector, dot_dataset):
    path = extract(detector, dot_dataset)["train"]
    other = {"checkpoint": "runs/b/checkpoints/step_00000009", "step": 9}
    with pytest.raises(KeyvidError, match="another checkpoint; pass --overwrite"):
        extract(detector, dot_dataset, source=other)
    extract(detector, dot_dataset, source=other, overwrite=True)
    assert json.loads(path.with_suffix(".json").read_text())["step"] == 9


@pytest.mark.parametrize("name", ["", "a/b", ".hidden"])
def test_names_must_be_plain(detector, dot_dataset, name):
    with pytest.raises(KeyvidError, match="plain file name"):
        extract(detector, dot_dataset, name=name)


def counting_detect_rows(monkeypatch, *, fail_on_call: int | None = None) -> list[int]:
    """Replace detect_rows; returns the list of the first row of every call."""
    starts: list[int] = []

    def wrapped(detector, data, rows, **kw):
        starts.append(int(rows[0]))
        if len(starts) == fail_on_call:
            raise KeyboardInterrupt
        return detect_rows(detector, data, rows, **kw)

    monkeypatch.setattr(pseudolabels, "detect_rows", wrapped)
    return starts


def test_an_interrupted_extraction_resumes_where_it_stopped(detector, dot_dataset, monkeypatch):
    monkeypatch.setattr(pseudolabels, "CHUNK_ROWS", 10)
    folder = dot_dataset / "train" / "keypoints"
    total = len(all_rows(PreparedDataset(dot_dataset, "train")))  # 54: 6 chunks
    counting_detect_rows(monkeypatch)
    straight = np.load(extract(detector, dot_dataset, name="straight", splits=("train",))["train"])

    starts = counting_detect_rows(monkeypatch, fail_on_call=2)
    with pytest.raises(KeyboardInterrupt):
        extract(detector, dot_dataset, splits=("train",))
    assert starts == [0, 10]
    assert not (folder / "stage1.npy").exists()
    assert (folder / ".stage1.partial.npy").exists()
    state = json.loads((folder / ".stage1.partial.json").read_text())
    assert state["shape"] == [total, 4, 2]
    # One marker per finished chunk: only the first one (rows 0-9) was done.
    assert [p.name for p in (folder / ".stage1.partial.done").iterdir()] == [f"{0:012d}"]

    starts = counting_detect_rows(monkeypatch)
    path = extract(detector, dot_dataset, splits=("train",))["train"]
    assert starts == list(range(10, total, 10))  # the first chunk was not redone
    np.testing.assert_array_equal(np.load(path), straight)
    assert sorted(p.name for p in folder.iterdir()) == [
        "stage1.json",
        "stage1.npy",
        "straight.json",
        "straight.npy",
    ]


def test_a_partial_extraction_from_another_source_starts_over(detector, dot_dataset, monkeypatch):
    monkeypatch.setattr(pseudolabels, "CHUNK_ROWS", 10)
    counting_detect_rows(monkeypatch, fail_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        extract(detector, dot_dataset, splits=("train",))
    starts = counting_detect_rows(monkeypatch)
    other = {"checkpoint": "runs/b/checkpoints/step_00000009", "step": 9}
    path = extract(detector, dot_dataset, source=other, splits=("train",))["train"]
    assert starts[0] == 0
    data = PreparedDataset(dot_dataset, "train")
    expected = detect_rows(detector, data, all_rows(data))
    np.testing.assert_allclose(np.load(path), expected, atol=1e-6)
