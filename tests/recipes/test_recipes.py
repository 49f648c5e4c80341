"""``keyvid recipe``: whole chains at --tiny, on generated data, Penn / FOMM fixtures and real
clips; reruns skip finished steps, an interrupted step resumes, bundles name no local path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from keyvid import Pipeline
from keyvid.cli import main
from keyvid.recipes import describe_recipe, run_recipe
from keyvid.recipes.bundle import without_machine_paths
from keyvid.recipes.runner import STATE_FILE
from tests.data.test_fomm import fomm_src  # noqa: F401  (fixture)
from tests.data.test_penn import penn_src  # noqa: F401  (fixture)

SYNTH_STEPS = [
    "data", "test-data", "classifier-data", "stage1-keypoints", "stage1-translator",
    "stage1-translator-long", "pseudo-labels", "stage2", "stage2-no-action",
    "stage2-diffusion", "stage2-diffusion-no-action", "classifier", "model", "model-no-action",
    "model-diffusion", "model-diffusion-no-action", "model-classifier", "evaluation",
    "evaluation-diffusion",
]  # fmt: skip
BUNDLES = (
    "model", "model-no-action", "model-diffusion", "model-diffusion-no-action", "model-classifier",
)  # fmt: skip


def run(name: str, out: Path, **kwargs) -> tuple[Path, list[str]]:
    lines: list[str] = []
    model = run_recipe(name, out, tiny=True, progress=False, log=lines.append, **kwargs)
    return model, lines


@pytest.fixture(scope="module")
def synth_recipe(tmp_path_factory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("recipe") / "synth"
    torch.manual_seed(0)
    _, lines = run("synth", out)
    return out, lines


def test_the_synth_recipe_makes_every_shipped_model_and_its_evaluation(synth_recipe):
    out, lines = synth_recipe
    assert [line.split("]")[1].split(":")[0].strip() for line in lines[:-1]] == SYNTH_STEPS
    pipe = Pipeline.from_pretrained(out / "model")
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    result = pipe(image, action="squats", frames=4, seed=0)
    assert result.frames.shape == (1, 5, 32, 32, 3)  # the tiny model renders 32×32
    assert not Pipeline.from_pretrained(out / "model-no-action").uses_action
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    assert metrics["num_videos"] == 9 and metrics["classifier"] is not None
    assert metrics["no_action_model"] is not None  # the w/o-a row is there
    # The diffusion generator beside it, on the same pseudo-labels, evaluated the same way.
    diffusion = Pipeline.from_pretrained(out / "model-diffusion")
    assert diffusion.motion.config.kind == "diffusion" and diffusion.takes_guidance
    assert diffusion(image, action="squats", frames=4, seed=0).frames.shape == (1, 5, 32, 32, 3)
    metrics = json.loads((out / "evaluation-diffusion" / "metrics.json").read_text())
    assert metrics["motion_generator"] == "diffusion" and metrics["num_videos"] == 9
    assert metrics["no_action_model"].endswith("model-diffusion-no-action")


def test_a_rerun_skips_every_finished_step(synth_recipe):
    out, _ = synth_recipe
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    _, lines = run("synth", out)
    assert all(line.endswith("done before, skipped") for line in lines[:-1])
    assert len(lines) == len(SYNTH_STEPS) + 1
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert after == before  # nothing rewritten


def test_bundles_say_how_they_were_made_and_name_no_local_path(synth_recipe):
    out, _ = synth_recipe
    for bundle in BUNDLES:
        meta = json.loads((out / bundle / "meta.json").read_text())
        recipe = meta["recipe"]
        assert recipe["command"] == "keyvid recipe synth --out OUT --tiny"
        assert recipe["data"]["data"]["seed"] == 0
        assert recipe["data"]["test-data"]["seed"] == 41  # the untouched test split
        assert recipe["data"]["classifier-data"]["seed"] == 3
        assert recipe["commit"] is None or len(recipe["commit"].split("-")[0]) == 40
        assert set(recipe["steps"]) == set(SYNTH_STEPS)
        summary = json.loads((out / bundle / "training_summary.json").read_text())
        assert summary and all(s["steps"] == 12 for s in summary.values())
        for path in (out / bundle).iterdir():
            if path.suffix != ".safetensors":
                text = path.read_text()
                assert str(out.parent) not in text and "/tmp" not in text, path
    summary = json.loads((out / "model" / "training_summary.json").read_text())
    assert list(summary) == ["stage1-keypoints", "stage1-translator", "stage1-translator-long",
                             "stage2"]  # fmt: skip
    assert "loss/reconstruction" in summary["stage1-keypoints"]["final"]


def test_an_interrupted_training_step_resumes_to_the_same_weights(synth_recipe, tmp_path):
    out = tmp_path / "synth"
    shutil.copytree(synth_recipe[0], out)
    # As if stopped after stage 2's checkpoint at step 6 of 12.
    shutil.rmtree(out / "stage2" / "checkpoints" / "step_00000012")
    state = json.loads((out / STATE_FILE).read_text())
    del state["finished"]["stage2"]
    (out / STATE_FILE).write_text(json.dumps(state))
    _, lines = run("synth", out)
    assert lines[7].startswith("[8/19] stage2: keyvid train stage2")
    weights = "checkpoints/step_00000012/model.safetensors"
    resumed, uninterrupted = (
        load_file(out / "stage2" / weights),
        load_file(synth_recipe[0] / "stage2" / weights),
    )
    for name, value in uninterrupted.items():
        assert torch.equal(resumed[name], value), name


def test_a_changed_recipe_neither_mixes_nor_silently_finishes_old_steps(synth_recipe, tmp_path):
    out = tmp_path / "synth"
    shutil.copytree(synth_recipe[0], out)
    state = json.loads((out / STATE_FILE).read_text())
    # A finished step recorded with another command: the recipe changed since.
    edited = json.loads(json.dumps(state))
    edited["recipe"]["steps"]["stage1-keypoints"] += " optim.lr=0.5"
    (out / STATE_FILE).write_text(json.dumps(edited))
    with pytest.raises(Exception, match="finished step stage1-keypoints was"):
        run("synth", out)
    # An interrupted run whose settings differ from the step's now: not resumed.
    del state["finished"]["stage2"]
    (out / STATE_FILE).write_text(json.dumps(state))
    shutil.rmtree(out / "stage2" / "checkpoints" / "step_00000012")
    config = out / "stage2" / "config.yaml"
    config.write_text(config.read_text().replace("batch_size: 4", "batch_size: 2"))
    with pytest.raises(Exception, match=r"started with other settings .*optim.batch_size: 2 -> 4"):
        run("synth", out)


def test_a_recipe_folder_refuses_other_options(synth_recipe, tmp_path):
    with pytest.raises(Exception, match=r"holds recipe keyvid recipe synth --out OUT --tiny"):
        run_recipe("synth", synth_recipe[0], tiny=False, progress=False, log=lambda _: None)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file.txt").write_text("mine")
    with pytest.raises(Exception, match="is not a recipe folder"):
        run("synth", tmp_path / "other")


def test_penn_recipe_on_a_miniature_penn_action(penn_src, tmp_path):  # noqa: F811
    model, lines = run("penn", tmp_path / "penn", src=penn_src)
    assert [line.split("]")[1].split(":")[0].strip() for line in lines[:-1]] == [
        "data", "stage1", "pseudo-labels", "stage2", "model", "evaluation",
    ]  # fmt: skip
    pipe = Pipeline.from_pretrained(model)
    assert pipe.actions[1] == "pull_ups"
    metrics = json.loads((tmp_path / "penn" / "evaluation" / "metrics.json").read_text())
    assert metrics["num_videos"] == 1  # the split's one test video in the miniature
    meta = json.loads((model / "meta.json").read_text())
    assert meta["recipe"]["command"] == "keyvid recipe penn --out OUT --src SRC --tiny"
    assert str(penn_src) not in (model / "meta.json").read_text()


@pytest.mark.parametrize("name", ["nemo", "mgif"])
def test_fomm_layout_recipes(name, fomm_src, tmp_path):  # noqa: F811
    model, _ = run(name, tmp_path / name, src=fomm_src)
    pipe = Pipeline.from_pretrained(model)
    assert pipe.actions == ("moving_gif",) and not pipe.uses_action  # paper: k0 only


def test_folder_recipe_on_real_clips_under_torchrun(real_clips_dir, tmp_path):
    src = tmp_path / "videos" / "clips"
    src.mkdir(parents=True)
    for clip in real_clips_dir.glob("*.mp4"):
        shutil.copy(clip, src)
    model, _ = run("folder", tmp_path / "folder", src=src.parent, nproc_per_node=2)
    assert (tmp_path / "folder" / "stage1" / "metrics.jsonl").is_file()
    assert Pipeline.from_pretrained(model).actions == ("clips",)


def test_cli_dry_run_and_errors(tmp_path, capsys):
    assert main(["recipe", "synth", "--dry-run"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed] == SYNTH_STEPS
    assert "keyvid train stage1 --config configs/synth.yaml data.root=OUT/data" in printed[3]
    assert main(["recipe", "penn", "--out", str(tmp_path / "p")]) == 2
    assert "recipe penn needs --src" in capsys.readouterr().err
    assert main(["recipe", "synth", "--src", str(tmp_path), "--out", str(tmp_path / "s")]) == 2
    assert "makes its own data; drop --src" in capsys.readouterr().err
    assert main(["recipe", "synth"]) == 2
    assert "--out DIR" in capsys.readouterr().err
    assert describe_recipe("folder", src="videos")[0].startswith("data: keyvid data prepare folder")


def test_machine_paths_are_made_relative_or_reduced_to_a_name(tmp_path):
    config = {"data": {"root": str(tmp_path / "data")}, "w": "/opt/vgg19.pth", "n": [1, "a"]}
    assert without_machine_paths(config, tmp_path) == {
        "data": {"root": "data"},
        "w": "vgg19.pth",
        "n": [1, "a"],
    }


def test_a_stopped_recipe_says_to_rerun_the_recipe(tmp_path, capsys, monkeypatch):
    import signal

    from keyvid.errors import TrainingStopped

    def stopped(*args, **kwargs):
        raise TrainingStopped(signal.SIGTERM, tmp_path / "run" / "checkpoints" / "step_00000006")

    monkeypatch.setattr("keyvid.recipes.run_recipe", stopped)
    assert main(["recipe", "synth", "--tiny", "--out", str(tmp_path / "r")]) == 128 + 15
    err = capsys.readouterr().err
    assert "run the same keyvid recipe command again" in err and "--resume" not in err
