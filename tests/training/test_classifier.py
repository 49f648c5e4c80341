"""Training the in-domain evaluator: it learns the actions, checkpoints, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from keyvid.cli import main
from keyvid.config import load_config
from keyvid.data.format import DatasetWriter, PreparedDataset
from keyvid.errors import KeyvidError
from keyvid.metrics.actions import accuracy, classify
from keyvid.models.load import load_classifier
from keyvid.training.classifier import train_classifier
from keyvid.training.config import ClassifierConfig

MOTIONS = ("across", "up_down", "still")  # flip-invariant: the augmentation mirrors clips
TINY = [
    "model.frames=6",
    "model.channels=4",
    "model.features=8",
    "model.dropout=0",
    "optim.batch_size=12",
    "optim.lr=1e-2",
    "optim.betas=[0.9,0.999]",
    "optim.device=cpu",
    "data.num_workers=0",
    "log.log_every=5",
    "log.eval_every=0",
    "log.tensorboard=false",
]


def motion_video(rng: np.random.Generator, action: int, frames: int = 8, size: int = 16):
    """A bright square on a noisy background moving across, up and down, or not at all."""
    video = rng.integers(0, 60, size=(frames, size, size, 3), dtype=np.uint8)
    x, y = rng.integers(2, size - 6, size=2)
    for t in range(frames):
        step = round(t * (size - 8) / (frames - 1))
        dx, dy = [(step, 0), (0, step), (0, 0)][action]
        cx, cy = (2 + dx, y) if action == 0 else (x, 2 + dy) if action == 1 else (x, y)
        video[t, cy : cy + 4, cx : cx + 4] = 255
    return video


def write_motion_dataset(root: Path, *, train: int = 8, test: int = 4) -> Path:
    """``train`` / ``test`` videos per class of the three MOTIONS."""
    rng = np.random.default_rng(0)
    with DatasetWriter(root, actions=MOTIONS, size=(16, 16)) as w:
        for split, n in (("train", train), ("test", test)):
            for i in range(n * len(MOTIONS)):
                w.add(split, f"{split}{i}", motion_video(rng, i % 3), action=i % 3)
    return root


@pytest.fixture(scope="module")
def motions(tmp_path_factory) -> Path:
    return write_motion_dataset(tmp_path_factory.mktemp("motions") / "data")


def config(data: Path, *extra: str) -> ClassifierConfig:
    return load_config(ClassifierConfig, None, [*TINY, f"data.root={data}", *extra])


def test_the_classifier_learns_the_actions_of_unseen_videos(motions, tmp_path):
    # Must hold on any CPU's roundings (issue 20). At lr 1e-2 to the last step, Adam moves
    # the weights by ~lr every step however small the loss, and batch norm's running
    # statistics (what eval mode uses; momentum 0.1, so the last ~10 steps) lag behind
    # them: test accuracy fell to 0.33-0.67 on 2 seeds in 10 (which ones changed with the
    # CPU kernels, seed 0 among them on most) while the same weights scored 1.0 on batch
    # statistics or on statistics recomputed after training. A last milestone (lr ×0.1
    # from step 100, as configs/synth_classifier.yaml settles) lets them catch up. Mirroring
    # makes "across" two motions (leftwards, rightwards) that the 4-channel network failed
    # to tell from "still" on 1 seed in 20; the other augmentations stay. Measured over
    # seeds 0-19 under every setting of tests/conftest.py: 1.0 (untrained: 0.17-0.33).
    settle = ["optim.steps=150", "optim.lr_milestones=[100]", "data.augment.flip=false"]
    ckpt = train_classifier(config(motions, *settle), tmp_path / "run", progress=False)
    classifier, loaded = load_classifier(ckpt)
    assert loaded.kind == "classifier" and loaded.step == 150
    assert classifier.config.actions == MOTIONS and classifier.config.num_actions == 3
    test = PreparedDataset(motions, "test")
    videos = [torch.from_numpy(np.array(test.frames(i))).permute(0, 3, 1, 2) / 255 for i in
              range(len(test))]  # fmt: skip
    logits, features = classify(classifier, videos)
    labels = torch.tensor([v.action for v in test.videos])
    assert logits.shape == (12, 3) and features.shape == (12, 8)
    assert accuracy(logits, labels) >= 0.9  # chance: 1/3


def test_test_accuracy_is_logged_during_training(motions, tmp_path):
    run = tmp_path / "run"
    train_classifier(config(motions, "optim.steps=4", "log.eval_every=2"), run, progress=False)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/accuracy" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert all(0 <= r["eval/accuracy"] <= 1 for r in evals)


def test_resume_continues_bit_identically(motions, tmp_path):
    whole = train_classifier(config(motions, "optim.steps=4"), tmp_path / "a", progress=False)
    cfg = config(motions, "optim.steps=4")
    train_classifier(cfg, tmp_path / "b", progress=False, max_steps=2)
    resumed = train_classifier(cfg, tmp_path / "b", resume=True, progress=False)
    a, b = load_classifier(whole)[1].weights, load_classifier(resumed)[1].weights
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_dataset_with_one_action_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    with DatasetWriter(tmp_path / "one", actions=("only",), size=(16, 16)) as w:
        w.add("train", "v", motion_video(rng, 0), action=0)
    with pytest.raises(KeyvidError, match="needs at least 2"):
        train_classifier(config(tmp_path / "one"), tmp_path / "run", progress=False)


def test_cli_trains_and_names_the_checkpoint(motions, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "classifier", "--data", str(motions), "--run", str(run), *TINY]
    assert main([*args, "optim.steps=2"]) == 0
    assert "checkpoint:" in capsys.readouterr().out
    assert (run / "checkpoints" / "step_00000002" / "model.safetensors").is_file()


def test_export_keeps_the_classifier_alone(motions, tmp_path, capsys):
    ckpt = train_classifier(config(motions, "optim.steps=1"), tmp_path / "run", progress=False)
    out = tmp_path / "exported"
    assert main(["export", str(ckpt), str(out)]) == 0
    assert "exported action_classifier" in capsys.readouterr().out
    classifier, loaded = load_classifier(out)
    assert loaded.kind == "classifier" and not (out / "training_state.pt").exists()
    assert classifier.config.actions == MOTIONS
