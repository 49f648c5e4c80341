"""The `synth` model shipped inside the package loads by name, tracks the actors and
moves them differently for each action."""

import itertools
import json
import re

import torch
import yaml

from keyvid.checkpoint import PRETRAINED_DIR, resolve_checkpoint
from keyvid.data.format import PreparedDataset
from keyvid.data.prepare import prepare_synthetic
from keyvid.metrics.keypoints import keypoint_regression_error
from keyvid.metrics.motion import start_sequences
from keyvid.models.detector import KeypointDetector
from keyvid.models.load import load_stage1
from keyvid.pipeline.demo import demo_actors
from keyvid.pipeline.generate import Pipeline
from keyvid.pipeline.pseudolabels import extract_keypoints


def test_synth_is_addressable_by_name():
    assert resolve_checkpoint("synth") == PRETRAINED_DIR / "synth"
    model, ckpt = load_stage1("synth")
    assert ckpt.kind == "pipeline" and ckpt.config["stage1"]["model"]["image_size"] == 64
    kp = model.detector(torch.rand(2, 3, 64, 64))
    assert kp.shape == (2, model.config.num_keypoints, 2) and kp.abs().max() <= 1


def test_synth_keypoints_predict_joints_on_unseen_videos(tmp_path):
    # Fresh videos from a seed it never trained on (0); a small version of the IMM protocol
    # (here 0.049 vs 0.164 untrained).
    root = prepare_synthetic(tmp_path / "s", train=45, test=18, frames=8, seed=11, progress=False)
    train, test = PreparedDataset(root, "train"), PreparedDataset(root, "test")
    model, _ = load_stage1("synth")
    learned = keypoint_regression_error(model.detector, train, test)["test_error"]
    torch.manual_seed(0)
    untrained = KeypointDetector(model.detector.config).eval()
    reference = keypoint_regression_error(untrained, train, test)["test_error"]
    # Full test split: 0.0475 vs 0.131 (benchmarks/results/stage1_synth_keypoints.json).
    assert learned < 0.7 * reference, (learned, reference)


def test_synth_generates_a_different_motion_for_each_action():
    pipe = Pipeline.from_pretrained("synth")
    assert len(pipe.actions) == 9 and pipe.uses_action
    image = demo_actors(1, seed=3)[0]
    # One sample per action, same z (seed): only the action differs.
    runs = {a: pipe(image, a, frames=16, seed=0).keypoints[0] for a in range(9)}  # (17, K, 2)
    moves = {a: float(abs(kp[1:] - kp[:1]).mean()) for a, kp in runs.items()}
    # The keypoints move (an untrained generator stands still: its offsets start at 0) ...
    assert min(moves.values()) > 0.007, moves  # measured 0.014-0.15
    # ... and each pair of actions moves differently.
    gaps = [float(abs(runs[a] - runs[b]).mean()) for a, b in itertools.combinations(range(9), 2)]
    assert min(gaps) > 0.005, min(gaps)  # measured 0.012 (the one before it, on N(0, I): 0.003)


def test_synth_no_action_is_the_same_stage1_without_the_action():
    pipe, ablation = Pipeline.from_pretrained("synth"), Pipeline.from_pretrained("synth-no-action")
    assert pipe.uses_action and not ablation.uses_action
    ours, theirs = pipe.stage1.state_dict(), ablation.stage1.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    result = ablation(demo_actors(1)[0], frames=4, samples=2, seed=0)
    assert result.frames.shape == (2, 5, 64, 64, 3) and result.action is None


def test_synth_classifier_recognises_unseen_real_videos(tmp_path):
    from keyvid.metrics.actions import accuracy, classify, evaluation_clip_of
    from keyvid.models.load import load_classifier

    classifier, _ = load_classifier("synth-classifier")
    root = prepare_synthetic(tmp_path / "s", train=9, test=27, frames=40, seed=12, progress=False)
    test = PreparedDataset(root, "test")
    assert classifier.config.actions == tuple(test.actions)
    clips = [evaluation_clip_of(test.frames(i), classifier.config.frames) for i in range(len(test))]
    logits, _ = classify(classifier, clips)
    # Full fresh test split: see benchmarks/results/evaluation_synth.json.
    assert accuracy(logits, torch.tensor([v.action for v in test.videos])) >= 0.85


def test_synth_samples_travel_as_far_as_the_data_with_calibration(tmp_path):
    # Fresh actors (seed 13), pseudo-labels from the shipped detector: raw samples fall
    # short of the data's travel from k0 (measured 0.83x), calibrated ones match it (1.00x).
    root = prepare_synthetic(tmp_path / "s", train=45, test=0, frames=40, seed=13, progress=False)
    pipe = Pipeline.from_pretrained("synth")
    extract_keypoints(pipe.stage1.detector, root, name="stage1", source={}, progress=False)
    sequences = start_sequences(PreparedDataset(root, "train"), "stage1", 33)
    seq = torch.stack([sequences[i]["keypoints"] for i in range(len(sequences))])
    action = torch.stack([sequences[i]["action"] for i in range(len(sequences))])
    k0, data = seq[:, 0], float((seq[:, 1:] - seq[:, :1]).abs().mean())

    def travel(scale):
        draws = pipe.motion.sample(k0, action, 32, torch.Generator().manual_seed(0), scale=scale)
        return float((draws - k0[:, None]).abs().mean())

    assert pipe.motion.config.calibrate_travel and not torch.all(pipe.motion.travel_scale == 1)
    assert travel(1.0) < 0.9 * data
    assert abs(travel(None) / data - 1) < 0.15


ABSOLUTE_PATH = re.compile(r"(?:^|[\s:=(,'\"])(?:~?/[\w.-]+/|[A-Za-z]:\\)")


def test_shipped_files_name_no_path_of_the_machine_that_built_them():
    # A shipped model says how it was made, never where: no absolute path in its config,
    # meta or training summary (keyvid recipe writes paths relative to its folder).
    def strings(value):
        if isinstance(value, dict):
            yield from (s for v in value.values() for s in strings(v))
        elif isinstance(value, list):
            yield from (s for v in value for s in strings(v))
        elif isinstance(value, str):
            yield value

    folders = sorted(p for p in PRETRAINED_DIR.iterdir() if (p / "meta.json").is_file())
    assert [f.name for f in folders] == ["synth", "synth-classifier", "synth-no-action"]
    for folder in folders:
        for path in folder.iterdir():
            if path.suffix in (".json", ".yaml"):
                data = (
                    json.loads(path.read_text())
                    if path.suffix == ".json"
                    else yaml.safe_load(path.read_text())
                )
                absolute = [s for s in strings(data) if ABSOLUTE_PATH.search(s)]
                assert not absolute, f"{path}: {absolute}"
