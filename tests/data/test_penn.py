"""Penn Action adapter on fixtures that mimic the official release exactly: frames/<id>/
000001.jpg and labels/<id>.mat written with scipy under the real field names."""

import json
import logging

import numpy as np
import pytest

from keyvid.data.actions import PENN_ACTIONS
from keyvid.data.format import PreparedDataset
from keyvid.data.penn import prepare_penn, read_split
from keyvid.errors import KeyvidError

scipy_io = pytest.importorskip("scipy.io")

H, W, T = 72, 128, 9
DOT = (3, 60.0, 30.0)  # joint 3 (left elbow) sits on a white dot at 1-based (x, y) = (60, 30)


def write_penn_video(src, video_id, action, *, frames=T, drop=(), **label_changes):
    """One video of the release: grey frames with a white dot on one joint, and its labels."""
    folder = src / "frames" / video_id
    folder.mkdir(parents=True)
    from PIL import Image

    for i in range(1, frames + 1):
        image = np.full((H, W, 3), 40, dtype=np.uint8)
        _, x, y = DOT
        image[int(y) - 2 : int(y) + 1, int(x) - 2 : int(x) + 1] = 255  # 3×3 around (x, y)
        Image.fromarray(image).save(folder / f"{i:06d}.jpg", quality=98)
    rng = np.random.default_rng(int(video_id))
    x = rng.uniform(50, 80, size=(frames, 13))
    y = rng.uniform(15, 60, size=(frames, 13))
    x[:, DOT[0]], y[:, DOT[0]] = DOT[1], DOT[2]
    visibility = np.ones((frames, 13), dtype=np.uint8)
    visibility[:, 12] = 0  # right ankle hidden
    labels = {
        "action": action,
        "pose": "front",
        "x": x,
        "y": y,
        "visibility": visibility,
        "train": 1,
        "bbox": np.tile([45.0, 10.0, 85.0, 65.0], (frames, 1)),
        "dimensions": np.array([H, W, frames]),
        "nframes": frames,
    }
    labels.update(label_changes)
    for name in drop:
        labels.pop(name)
    (src / "labels").mkdir(exist_ok=True)
    scipy_io.savemat(src / "labels" / f"{video_id}.mat", labels)


@pytest.fixture
def penn_src(tmp_path):
    src = tmp_path / "Penn_Action"
    write_penn_video(src, "0001", "baseball_pitch")  # train, class 4
    write_penn_video(src, "1150", "pullup")  # train, class 1 (Penn spells it "pullup")
    write_penn_video(src, "1858", "squat")  # test, class 7
    return src


def test_shipped_split_is_the_authors(tmp_path):
    train, test = read_split("train"), read_split("test")
    assert len(train) == 1172 and len(test) == 90
    assert not {v for v, _ in train} & {v for v, _ in test}
    counts = np.bincount([a for _, a in test], minlength=9)
    assert counts.tolist() == [10] * 9  # 10 test videos per class (paper Sec. 3.1)


def test_prepare_penn_crops_resizes_and_keeps_joints(penn_src, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="keyvid.data"):
        report = prepare_penn(penn_src, tmp_path / "penn", size=32, progress=False)
    assert report.videos == {"train": 2, "test": 1} and not report.skipped
    assert "1259 videos of the authors' split are not in" in caplog.text
    train = PreparedDataset(tmp_path / "penn", "train")
    assert train.actions == list(PENN_ACTIONS) and len(train.joint_names) == 13
    assert sorted((v.id, PENN_ACTIONS[v.action]) for v in train.videos) == [
        ("0001", "baseball_pitch"),
        ("1150", "pull_ups"),
    ]
    frames, joints = train.frames(1), train.joints(1)
    assert frames.shape == (T, 32, 32, 3) and joints.shape == (T, 13, 2)
    assert np.isnan(joints[:, 12]).all() and np.isfinite(joints[:, :12]).all()
    # The crop holds the box (45..85 × 10..65, longer side 55 + margins) and the dot is
    # drawn where the joint says: the brightest pixel is at the stored elbow.
    assert np.abs(joints[:, :12]).max() <= 1.0
    gray = frames[0].astype(float).sum(axis=2)
    gray = np.where(gray > gray.mean() + 100, gray, 0.0)
    yy, xx = np.mgrid[:32, :32]
    centre = np.array([(gray * xx).sum(), (gray * yy).sum()]) / gray.sum()
    np.testing.assert_allclose(centre, (joints[0, DOT[0]] + 1) / 2 * 31, atol=0.5)
    test = PreparedDataset(tmp_path / "penn", "test")
    assert [PENN_ACTIONS[v.action] for v in test.videos] == ["squats"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"drop": ("visibility",)}, "lacks the field(s) visibility"),
        ({"nframes": T + 2}, "lacks 2 of its 11 frames"),
        ({"x": np.zeros((T, 5))}, "expected (nframes, 13)"),
    ],
)
def test_bad_label_files_are_skipped_with_the_reason(penn_src, tmp_path, caplog, change, reason):
    write_penn_video(penn_src, "1151", "pullup", **change)
    with caplog.at_level(logging.WARNING, logger="keyvid.data"):
        report = prepare_penn(penn_src, tmp_path / "penn", size=16, progress=False)
    assert [s["id"] for s in report.skipped] == ["1151"]
    assert reason in report.skipped[0]["reason"] and reason in caplog.text
    meta = json.loads((tmp_path / "penn" / "dataset.json").read_text())
    assert meta["source"]["skipped"][0]["id"] == "1151"
    assert report.videos == {"train": 2, "test": 1}


def test_label_that_contradicts_the_split_is_skipped(penn_src, tmp_path):
    write_penn_video(penn_src, "1151", "golf_swing")  # the split lists 1151 as pull-ups
    report = prepare_penn(penn_src, tmp_path / "penn", size=16, progress=False)
    assert (
        "says 'golf_swing' but the split lists the video as 'pull_ups'"
        in (report.skipped[0]["reason"])
    )


def test_missing_label_file_and_unreadable_frame(penn_src, tmp_path):
    write_penn_video(penn_src, "1151", "pullup")
    (penn_src / "labels" / "1151.mat").unlink()
    write_penn_video(penn_src, "1152", "pullup")
    (penn_src / "frames" / "1152" / "000003.jpg").write_bytes(b"not a jpeg")
    report = prepare_penn(penn_src, tmp_path / "penn", size=16, progress=False)
    reasons = {s["id"]: s["reason"] for s in report.skipped}
    assert "1151.mat is missing" in reasons["1151"]
    assert "000003.jpg" in reasons["1152"]


def test_not_the_penn_layout_says_what_was_expected_and_found(tmp_path):
    (tmp_path / "src" / "videos").mkdir(parents=True)
    with pytest.raises(KeyvidError, match=r"expected the folders frames/.*found: videos/"):
        prepare_penn(tmp_path / "src", tmp_path / "out", progress=False)
    (tmp_path / "src" / "frames").mkdir()
    (tmp_path / "src" / "labels").mkdir()
    with pytest.raises(KeyvidError, match="holds none of the split's videos"):
        prepare_penn(tmp_path / "src", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
