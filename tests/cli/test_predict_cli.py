"""`keyvid predict`, `animate`, `demo`, `extract-keypoints` and `export` of a stage-2 run."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml
from safetensors.torch import load_file

from keyvid.cli import main
from keyvid.data.actions import PENN_ACTIONS
from keyvid.data.format import PreparedDataset
from keyvid.io import read_video, write_video
from keyvid.pipeline.generate import Pipeline
from tests.pipeline.tiny import IMAGE_SIZE, NUM_KEYPOINTS, build_tiny_diffusion

S = IMAGE_SIZE
GRID_PAD = 2  # keyvid.viz.video_grid's padding around every cell


def predict(models, image, out, *extra: str) -> int:
    args = ["predict", "--checkpoint", str(models.pipeline), "--image", str(image)]
    return main([*args, "--action", "squats", "--frames", "4", "--out", str(out), *extra])


def test_one_sample_one_video(models, image, tmp_path, capsys):
    out = tmp_path / "out.gif"
    assert predict(models, image, out) == 0
    assert capsys.readouterr().out.split() == [str(out)]
    video = read_video(out)
    assert video.shape == (5, S, S, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gif"]


def test_several_samples_are_numbered_files(models, image, tmp_path, capsys):
    out = tmp_path / "out.gif"
    assert predict(models, image, out, "--samples", "3") == 0
    names = ["out_1.gif", "out_2.gif", "out_3.gif"]
    assert capsys.readouterr().out.split() == [str(tmp_path / n) for n in names]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    for name in names:
        assert read_video(tmp_path / name).shape == (5, S, S, 3)


def test_grid_puts_the_samples_side_by_side(models, image, tmp_path):
    out = tmp_path / "grid.gif"
    assert predict(models, image, out, "--samples", "3", "--grid") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.gif"]
    video = read_video(out)
    cell = S + GRID_PAD
    assert video.shape == (5, cell + GRID_PAD, 3 * cell + GRID_PAD, 3)


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_upscale_doubles_the_size(models, image, tmp_path, suffix):
    out = tmp_path / f"big{suffix}"
    assert predict(models, image, out, "--upscale", "2", "--overlay", "--fps", "12") == 0
    assert read_video(out).shape == (5, 2 * S, 2 * S, 3)


def test_keypoints_json(models, image, tmp_path):
    out, points = tmp_path / "out.mp4", tmp_path / "points.json"
    assert predict(models, image, out, "--samples", "2", "--keypoints-out", str(points)) == 0
    doc = json.loads(points.read_text())
    assert doc["action"] == "squats"
    assert np.array(doc["keypoints"]).shape == (2, 5, NUM_KEYPOINTS, 2)
    assert (tmp_path / "out_1.mp4").exists() and (tmp_path / "out_2.mp4").exists()
    # The same call through the API gives the same keypoints (5 decimals in the file).
    result = Pipeline.from_pretrained(models.pipeline)(image, "squats", frames=4, samples=2)
    np.testing.assert_allclose(doc["keypoints"], result.keypoints, atol=1e-5)


def test_list_actions(models, capsys):
    assert main(["predict", "--checkpoint", str(models.pipeline), "--list-actions"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{i}: {name}" for i, name in enumerate(PENN_ACTIONS)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--action": "squat"}, "did you mean 'squats'?"),
        ({"--frames": "0"}, "frames must be a whole number from 1 to 4096, got 0"),
        ({"--samples": "0"}, "samples must be a whole number"),
        ({"--out": "OUT/out.avi"}, "unsupported output type '.avi'"),
        ({"--out": "OUT/missing/out.gif"}, "does not exist; create it first"),
        ({"--keypoints-out": "OUT/points.txt"}, "unsupported output type '.txt'"),
        ({"--image": "OUT/missing.png"}, "no such file"),
        ({"--image": "OUT/fake.png"}, "not a readable image"),
        ({"--upscale": "0"}, "--upscale must be from 1 to 16"),
    ],
)
def test_mistakes_are_one_error_line(models, image, tmp_path, capsys, change, message):
    (tmp_path / "fake.png").write_text("this is not a picture")
    options = {
        "--checkpoint": str(models.pipeline),
        "--image": str(image),
        "--action": "squats",
        "--frames": "3",
        "--out": str(tmp_path / "out.gif"),
    }
    options.update({k: v.replace("OUT", str(tmp_path)) for k, v in change.items()})
    argv = ["predict"] + [x for item in options.items() for x in item]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.png"]  # nothing written


def test_animate_keeps_the_driving_frame_count(models, image, tmp_path, capsys):
    frames = np.array(PreparedDataset(models.data, "train").frames(1))  # (6, 64, 64, 3)
    driving = write_video(tmp_path / "driving.gif", np.concatenate([frames, frames[::-1]]))
    out = tmp_path / "moved.mp4"
    args = ["animate", "--checkpoint", str(models.pipeline), "--image", str(image)]
    assert main([*args, "--driving", str(driving), "--out", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out)]
    assert read_video(out).shape == (12, S, S, 3)
    out = tmp_path / "short.gif"
    assert main([*args, "--driving", str(driving), "--out", str(out), "--max-frames", "4"]) == 0
    assert read_video(out).shape == (4, S, S, 3)
    assert main([*args, "--driving", str(driving), "--out", str(out), "--max-frames", "1"]) == 0
    assert read_video(out).shape == (1, S, S, 3)
    assert main([*args, "--driving", str(tmp_path / "nope.mp4"), "--out", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_demo_writes_a_grid_and_a_storyboard_per_actor(models, tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--checkpoint", str(models.pipeline), "--out", str(out)]
    assert main([*args, "--actors", "1", "--samples", "1", "--frames", "4"]) == 0
    printed = capsys.readouterr().out
    names = ["actor0.gif", "actor0.mp4", "actor0_storyboard.png"]
    assert sorted(p.name for p in out.iterdir()) == names
    assert f"demo written to {out.resolve()}" in printed
    video = read_video(out / "actor0.gif")
    assert len(video) == 5  # the input, then 4 frames
    assert video.shape[1] > len(PENN_ACTIONS) * S  # one row per action
    assert main([*args, "--actors", "0"]) == 2
    assert "--actors must be from 1 to 50" in capsys.readouterr().err


def test_demo_compare_adds_real_against_generated(models, tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--checkpoint", str(models.pipeline), "--actors", "1", "--samples", "1"]
    assert main([*args, "--frames", "4", "--out", str(out), "--compare"]) == 0
    files = ["actor0.gif", "actor0.mp4", "actor0_compare.gif", "actor0_compare.mp4"]
    files += ["actor0_compare.png", "actor0_storyboard.png"]
    assert sorted(p.name for p in out.iterdir()) == files
    printed = capsys.readouterr().out.split()
    assert all(str(out / name) in printed for name in files)
    assert len(read_video(out / "actor0_compare.gif")) == 5
    # A model whose classes are not the synthetic actions: one line, nothing written.
    other = tmp_path / "other"
    shutil.copytree(models.pipeline, other)
    config = yaml.safe_load((other / "config.yaml").read_text())
    config["stage2"]["model"]["actions"] = [f"class{i}" for i in range(len(PENN_ACTIONS))]
    (other / "config.yaml").write_text(yaml.safe_dump(config))
    args = ["demo", "--checkpoint", str(other), "--out", str(tmp_path / "none"), "--compare"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --compare with {other}: ") and err.count("\n") == 1, err
    assert "class0, class1" in err and "shipped synth" in err and "Traceback" not in err
    assert not (tmp_path / "none").exists()


def test_extract_keypoints_cli(models, dot_dataset, capsys):
    args = ["extract-keypoints", "--checkpoint", str(models.stage1), "--data", str(dot_dataset)]
    assert main([*args, "--split", "train", "--batch-size", "7"]) == 0
    path = dot_dataset / "train" / "keypoints" / "stage1.npy"
    assert capsys.readouterr().out.strip() == f"train: {path}"
    frames = sum(v.num_frames for v in PreparedDataset(dot_dataset, "train").videos)
    assert np.load(path).shape == (frames, NUM_KEYPOINTS, 2)
    assert not (dot_dataset / "test" / "keypoints").exists()
    assert main(args) == 0
    assert "already extracted" in capsys.readouterr().out
    assert (dot_dataset / "test" / "keypoints" / "stage1.npy").exists()
    assert main([*args, "--batch-size", "0"]) == 2
    assert "--batch-size must be at least 1" in capsys.readouterr().err


def test_export_of_a_stage2_run_is_a_pipeline(models, tmp_path, capsys):
    run = models.stage2.parent.parent  # runs/<name>/checkpoints/step_N -> runs/<name>
    out = tmp_path / "shipped"
    assert main(["export", str(run), str(out)]) == 0
    assert "exported detector, translator, motion_generator at step 2" in capsys.readouterr().out
    assert json.loads((out / "meta.json").read_text())["kind"] == "pipeline"
    weights = load_file(out / "model.safetensors")
    assert {k.split(".", 1)[0] for k in weights} == {"detector", "translator", "motion_generator"}
    assert not (out / "training_state.pt").exists()
    assert Pipeline.from_pretrained(out).actions == PENN_ACTIONS
    assert main(["export", str(models.stage1), str(tmp_path / "x"), "--stage1", "synth"]) == 2
    assert "--stage1 applies to stage-2 and pipeline checkpoints only" in capsys.readouterr().err


def test_export_swaps_the_translator_of_a_pipeline_keeping_its_detector(models, tmp_path, capsys):
    import shutil

    from safetensors.torch import save_file

    pipeline = tmp_path / "pipeline"
    assert main(["export", str(models.stage2), str(pipeline)]) == 0
    swapped = tmp_path / "swapped"
    assert main(["export", str(pipeline), str(swapped), "--stage1", str(models.stage1)]) == 0
    assert (
        load_file(swapped / "model.safetensors").keys()
        == load_file(pipeline / "model.safetensors").keys()
    )
    # A stage 1 with another detector would feed the motion generator foreign keypoints.
    other = tmp_path / "other"
    shutil.copytree(models.stage1, other)
    weights = load_file(other / "model.safetensors")
    name = next(k for k in weights if k.startswith("detector.") and k.endswith("weight"))
    weights[name] = weights[name] + 1
    save_file(weights, other / "model.safetensors")
    capsys.readouterr()
    assert main(["export", str(pipeline), str(tmp_path / "y"), "--stage1", str(other)]) == 2
    assert "another keypoint detector" in capsys.readouterr().err


def test_guidance_steers_a_diffusion_model_and_a_cvae_says_no(
    models, image, tmp_path, tmp_path_factory, capsys
):
    diffusion = build_tiny_diffusion(models, tmp_path_factory.mktemp("diffusion"))
    args = ["predict", "--image", str(image), "--action", "squats", "--frames", "3"]
    out = tmp_path / "guided.gif"
    assert main([*args, "--checkpoint", str(diffusion), "--guidance", "3", "--out", str(out)]) == 0
    assert read_video(out).shape == (4, S, S, 3)
    capsys.readouterr()
    cvae = [
        "--checkpoint",
        str(models.pipeline),
        "--guidance",
        "3",
        "--out",
        str(tmp_path / "c.gif"),
    ]
    assert main([*args, *cvae]) == 2
    assert "a cvae with the action: leave guidance out" in capsys.readouterr().err
    assert not (tmp_path / "c.gif").exists()
