import json
import subprocess
import sys

import numpy as np
import pytest

from keyvid.cli import main
from keyvid.io import read_video


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "s"
    assert (
        main(
            [
                "data",
                "synth",
                str(root),
                "--train",
                "18",
                "--test",
                "9",
                "--frames",
                "6",
                "--seed",
                "7",
            ]
        )
        == 0
    )
    return root


def test_synth_and_info_json(synth_root, capsys):
    capsys.readouterr()
    assert main(["data", "info", str(synth_root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["splits"]["train"]["videos"] == 18 and info["splits"]["test"]["videos"] == 9
    assert set(info["splits"]["train"]["actions"].values()) == {2}
    assert set(info["splits"]["test"]["actions"].values()) == {1}
    assert info["resolution"] == [64, 64] and len(info["joints"]) == 13


def test_info_text(synth_root, capsys):
    assert main(["data", "info", str(synth_root)]) == 0
    out = capsys.readouterr().out
    assert "train: 18 videos, 108 frames" in out and "jumping_jacks" in out


def test_preview_writes_a_gif(synth_root, tmp_path):
    out = tmp_path / "p.gif"
    assert main(["data", "preview", str(synth_root), "--out", str(out), "--videos", "4"]) == 0
    video = read_video(out)
    assert video.shape[0] == 6 and video.shape[-1] == 3
    assert video.std() > 10  # not a blank image


def test_synth_is_deterministic(synth_root, tmp_path):
    again = tmp_path / "again"
    main(
        [
            "data",
            "synth",
            str(again),
            "--train",
            "18",
            "--test",
            "9",
            "--frames",
            "6",
            "--seed",
            "7",
        ]
    )
    for name in ("train/frames.u8", "test/joints.f32", "train/index.json"):
        assert (again / name).read_bytes() == (synth_root / name).read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["data", "synth", "{tmp}/x", "--size", "96"],
            "unsupported --size 96; choose one of 64, 128",
        ),
        (["data", "synth", "{tmp}/x", "--frames", "1"], "--frames 1 is too few"),
        (
            ["data", "synth", "{existing}"],
            "exists and is not empty; choose another folder or pass --overwrite",
        ),
        (["data", "info", "{tmp}/missing"], "does not exist"),
        (["data", "info", "{tmp}"], "not a prepared keyvid dataset"),
        (["data", "preview", "{existing}", "--split", "val"], "has no 'val' split"),
        (["data", "preview", "{existing}", "--out", "{tmp}/p.txt"], "p.txt"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, synth_root, tmp_path, capsys):
    args = [a.format(tmp=tmp_path, existing=synth_root) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_console_script_runs_and_hides_tracebacks(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "keyvid", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "data" in ok.stdout and "train" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "keyvid", "data", "info", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "keyvid", "--debug", "data", "info", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
    )
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_overwrite_replaces_a_dataset(synth_root, tmp_path):
    root = tmp_path / "o"
    main(["data", "synth", str(root), "--train", "9", "--test", "0", "--frames", "3"])
    assert (
        main(
            [
                "data",
                "synth",
                str(root),
                "--train",
                "18",
                "--test",
                "0",
                "--frames",
                "3",
                "--overwrite",
            ]
        )
        == 0
    )
    index = json.loads((root / "train" / "index.json").read_text())
    assert len(index) == 18
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left
    assert np.fromfile(root / "train" / "frames.u8", dtype=np.uint8).size == 18 * 3 * 64 * 64 * 3
