"""The README's "Train on your own videos" guide, end to end through the CLI, on the
real clips (tiny sizes, a few steps): prepare a folder dataset, stage 1, pseudo-labels,
stage 2, export, predict."""

from pathlib import Path

from keyvid.cli import main
from keyvid.data.format import PreparedDataset
from keyvid.io import read_video, write_image
from tests.pipeline.tiny import STAGE2_TINY
from tests.training.test_stage1 import TINY as STAGE1_TINY

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_folder_of_real_videos_to_a_generated_video(real_clips_dir, tmp_path, capsys):
    src = tmp_path / "my_videos" / "clips"
    src.mkdir(parents=True)
    for clip in sorted(real_clips_dir.glob("*.mp4")):
        (src / clip.name).symlink_to(clip)
    data, stage1, stage2 = tmp_path / "data", tmp_path / "stage1", tmp_path / "stage2"

    prepare = ["data", "prepare", "folder", "--src", str(tmp_path / "my_videos")]
    assert main([*prepare, "--out", str(data), "--size", "32", "--clip-frames", "30"]) == 0
    assert "videos" in capsys.readouterr().out
    train, test = PreparedDataset(data, "train"), PreparedDataset(data, "test")
    assert train.actions == ["clips"] and len(test) >= 1 and train.size == (32, 32)
    # Whole videos are split, never clips of one video: no source is on both sides.
    sources = {
        split: {v.id.split("#")[0] for v in d.videos} for split, d in [("tr", train), ("te", test)]
    }
    assert not sources["tr"] & sources["te"]

    run1 = ["train", "stage1", "--config", str(CONFIGS / "folder.yaml"), *STAGE1_TINY]
    assert main([*run1, f"data.root={data}", "optim.steps=2", "--run", str(stage1)]) == 0
    assert main(["extract-keypoints", "--checkpoint", str(stage1), "--data", str(data)]) == 0
    run2 = ["train", "stage2", "--config", str(CONFIGS / "folder_stage2.yaml"), *STAGE2_TINY]
    overrides = [f"data.root={data}", f"stage1={stage1}", "model.generator.action=false"]
    assert main([*run2, *overrides, "optim.steps=2", "--run", str(stage2)]) == 0
    assert main(["export", str(stage2), str(tmp_path / "model")]) == 0

    image = tmp_path / "first.png"
    write_image(image, read_video(src / "carphone_pristine.mp4", max_frames=1)[0])
    out = tmp_path / "out.gif"
    predict = ["predict", "--checkpoint", str(tmp_path / "model"), "--image", str(image)]
    assert main([*predict, "--action", "clips", "--frames", "6", "--out", str(out)]) == 0
    video = read_video(out)
    assert video.shape == (7, 32, 32, 3)  # the input frame, then 6 generated


def test_prepare_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    args = [
        "data",
        "prepare",
        "folder",
        "--src",
        str(tmp_path / "src"),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "has no action subfolders" in err and "Traceback" not in err
    args = ["data", "prepare", "penn", "--src", str(tmp_path / "src"), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    assert "is not the Penn Action layout" in capsys.readouterr().err
