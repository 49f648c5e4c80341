"""``keyvid evaluate`` end to end on tiny models: every row, metric file, report and error."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from keyvid.cli import main
from keyvid.data.format import PreparedDataset
from keyvid.errors import KeyvidError
from keyvid.evaluation.generation import (
    InDomainClassifier,
    collect_rows,
    region_keypoints,
    window_keypoints,
)
from keyvid.evaluation.report import evaluate_model, shipped_companion
from keyvid.io import read_video
from keyvid.models.i3d import InceptionI3d
from keyvid.models.load import load_classifier
from keyvid.pipeline.generate import Pipeline
from keyvid.training.classifier import train_classifier
from keyvid.training.stage2 import train_stage2
from tests.pipeline.tiny import (
    IMAGE_SIZE,
    LENGTH,
    NUM_KEYPOINTS,
    build_tiny_diffusion,
    build_tiny_models,
    stage2_config,
)
from tests.training.test_classifier import config as classifier_config
from tests.training.test_classifier import write_motion_dataset

ISSUE_KEYS = (
    "action_accuracy_real",
    "action_accuracy_generated",
    "action_accuracy_generated_no_action",
    "fd_indomain",
    "fd_indomain_copy_first_frame",
    "num_videos",
    "fvd",
    "fvd_skipped_reason",
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny pipeline, its w/o-action twin and a classifier, on tiny synthetic data."""
    folder = tmp_path_factory.mktemp("report")
    models = build_tiny_models(folder)
    extra = [f"stage1={models.stage1}", "optim.steps=2", "model.generator.action=false"]
    no_action = train_stage2(stage2_config(models.data, *extra), folder / "s2-noa", progress=False)
    cfg = classifier_config(models.data, "optim.steps=2", "model.frames=4")
    classifier = train_classifier(cfg, folder / "clf", progress=False)
    return models, no_action, classifier


def run(tiny, out, **kwargs):
    models, no_action, classifier = tiny
    options = dict(classifier=classifier, no_action=no_action, samples_per_video=2, max_videos=4)
    options.update(kwargs)
    return evaluate_model(
        models.pipeline, models.data, out, max_train_frames=40, progress=False, **options
    )


def test_every_row_and_the_issue_keys(tiny, tmp_path):
    result = run(tiny, tmp_path / "eval")
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(result))
    for key in ISSUE_KEYS:
        assert key in saved, key
    assert saved["num_videos"] == 4 and saved["fvd"] is None
    rows = saved["rows"]
    assert {r: rows[r]["videos"] for r in rows} == {
        "real": 4,
        "generated": 8,  # 2 samples per video
        "generated_no_action": 8,
        "copy_first_frame": 4,
        "pseudo_label_keypoints": 4,
    }
    for row in rows.values():
        assert 0 <= row["action_accuracy"] <= 1
    assert "fd_indomain" not in rows["real"] and rows["copy_first_frame"]["fd_indomain"] >= 0
    assert rows["generated"]["keypoint_diversity"] > 0  # two different samples
    assert "keypoint_l1" in rows["generated_no_action"] and "keypoint_l1" not in rows["real"]
    stage1 = saved["stage1"]["model"]
    assert stage1["keypoint_error"] > 0 and stage1["reconstruction"]["pairs"] > 0
    # FVD without weights is skipped, and the report says it is partial.
    assert saved["complete"] is False and "fvd" in saved["skipped"]


def test_sharpness_and_the_per_frame_fd_of_every_row(tiny, tmp_path):
    result = run(tiny, tmp_path / "eval")
    rows = result["rows"]
    real = rows["real"]
    assert real["sharpness_relative"] == 1.0
    assert real["sharpness_relative_per_frame"] == [1.0] * LENGTH  # frames 1..L-1
    assert "fd_frames" not in real and "sharpness_relative_real" not in result
    for row in ("generated", "generated_no_action", "copy_first_frame", "pseudo_label_keypoints"):
        assert rows[row]["fd_frames"] >= 0 and rows[row]["sharpness_relative"] > 0, row
        per_frame = rows[row]["sharpness_relative_per_frame"]
        assert len(per_frame) == LENGTH and all(v > 0 for v in per_frame), row
    assert result["fd_frames"] == rows["generated"]["fd_frames"]
    copy = rows["copy_first_frame"]
    assert result["sharpness_relative_copy_first_frame"] == copy["sharpness_relative"]
    assert result["fd_frames_no_action"] == rows["generated_no_action"]["fd_frames"]
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "| In-domain FD | Per-frame FD |" in report  # Table 1 (no FVD without weights)
    assert "## Sharpness of the actor's region" in report
    assert f"| All frames | Frame 1 | Frame {(LENGTH + 1) // 2} | Frame {LENGTH} |" in report
    assert f"| Real videos | 4 | {1:.3f} |" in report
    for png in ("fd_frames.png", "sharpness_relative.png"):
        assert (tmp_path / "eval" / png).stat().st_size > 0


def test_each_row_is_measured_from_frame_1_in_its_own_region(tiny):
    models, _, classifier = tiny
    stats, _ = collect_rows(
        PreparedDataset(models.data, "test"),
        pipe=Pipeline.from_pretrained(models.pipeline),
        classifier=InDomainClassifier.of(load_classifier(classifier)[0]),
        length=LENGTH + 1,
        samples=2,
        max_videos=2,
        progress=False,
    )
    copy = stats["copy_first_frame"].cat("sharpness")  # (2 videos, LENGTH frames)
    assert copy.shape == (2, LENGTH) and (copy > 0).all()
    assert torch.allclose(copy, copy[:, :1].expand_as(copy))  # one frame in one region
    assert stats["generated"].cat("sharpness").shape == (4, LENGTH)  # 2 samples per video
    assert stats["real"].frame_features.count == 2 * LENGTH
    assert stats["generated"].frame_features.count == 4 * LENGTH


def test_motion_metrics_of_the_keypoint_rows_from_a_classifier_of_the_training_split(
    tiny, tmp_path
):
    result = run(tiny, tmp_path / "eval")
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    motion = saved["motion_recognition"]
    assert {row: m["sequences"] for row, m in motion.items()} == {
        "pseudo_label_keypoints": 4,  # the real motion: Q on the 4 real test windows
        "generated": 8,  # 2 samples per video
        "generated_no_action": 8,
    }
    for row, m in motion.items():
        assert 0 <= m["accuracy"] <= 1, row
        assert np.isfinite(m["fid_train"]) and m["fid_train"] >= 0, row
        assert np.isfinite(m["diversity"]) and m["diversity"] >= 0, row
    for row in ("generated", "generated_no_action"):
        assert np.isfinite(motion[row]["fid"]) and motion[row]["fid"] >= 0, row
        assert np.isfinite(motion[row]["multimodality"]), row  # 2 samples of each action
    assert "fid" not in motion["pseudo_label_keypoints"]  # the reference itself
    train_videos = len(PreparedDataset(tiny[0].data, "train").videos)
    about = saved["motion_classifier"]
    assert about["train_videos"] == train_videos and 0 <= about["train_accuracy"] <= 1
    assert result["seconds_motion_classifier"] >= 0
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "## Motion (keypoint-sequence classifier on Q's keypoints; ACTOR/MDM protocol)" in report
    assert "| Keypoints | Sequences | Accuracy | FID | FID to train | Diversity |" in report
    for name, count in (("Real (Q on the real videos)", 4), ("Ours", 8), ("Ours w/o a", 8)):
        assert f"| {name} | {count} |" in report
    assert f"trained on Q's keypoints of {train_videos} training videos" in report
    # At most max_train_videos training videos; none turns the metrics off.
    fewer = run(tiny, tmp_path / "fewer", max_videos=2, max_train_videos=3)
    assert fewer["motion_classifier"]["train_videos"] == 3
    off = run(tiny, tmp_path / "off", max_videos=1, max_train_videos=0)
    assert off["motion_recognition"] == {} and off["motion_classifier"] is None
    assert "max_train_videos=0" in off["skipped"]["motion_recognition"]
    assert "## Motion" not in (tmp_path / "off" / "report.md").read_text()


def test_the_row_sequences_are_q_on_the_windows_as_the_training_sequences_are(tiny):
    models = tiny[0]
    test = PreparedDataset(models.data, "test")
    pipe = Pipeline.from_pretrained(models.pipeline)
    stats, _ = collect_rows(
        test, pipe=pipe, length=LENGTH + 1, samples=2, max_videos=3, progress=False
    )
    real, labels = stats["pseudo_label_keypoints"].sequences()
    assert real.shape == (3, LENGTH + 1, NUM_KEYPOINTS, 2)
    assert labels.tolist() == [v.action for v in test.videos[:3]]
    generated, generated_labels = stats["generated"].sequences()
    assert generated.shape == (6, LENGTH + 1, NUM_KEYPOINTS, 2)
    assert generated_labels.tolist() == [a for a in labels.tolist() for _ in range(2)]
    assert stats["real"].sequences() is None  # the real row's motion is the pseudo-labels'
    # The training sequences are read the same way (batched, several videos a batch).
    detected, actions = window_keypoints(
        test, pipe.stage1.detector, length=LENGTH + 1, image_size=pipe.image_size, batch_size=4
    )
    assert detected.shape == (len(test.videos), LENGTH + 1, NUM_KEYPOINTS, 2)
    assert torch.allclose(detected[:3], real, atol=1e-5) and torch.equal(actions[:3], labels)
    # At most max_videos of them, spread over the split (every action, not the first few).
    spread, spread_actions = window_keypoints(
        test, pipe.stage1.detector, length=LENGTH + 1, image_size=pipe.image_size, max_videos=3
    )
    last = len(test.videos) - 1
    assert torch.equal(spread_actions, actions[[0, last // 2, last]])
    assert torch.allclose(spread, detected[[0, last // 2, last]], atol=1e-5)


def test_without_a_train_split_the_motion_metrics_are_skipped(tiny, tmp_path):
    data = tmp_path / "only-test"
    shutil.copytree(tiny[0].data, data)
    meta = json.loads((data / "dataset.json").read_text())
    splits = {k: v for k, v in meta["splits"].items() if k != "train"}
    (data / "dataset.json").write_text(json.dumps({**meta, "splits": splits}))
    models, _, classifier = tiny
    result = evaluate_model(
        models.pipeline, data, tmp_path / "eval", classifier=classifier, max_videos=1,
        progress=False,
    )  # fmt: skip
    assert "no train split" in result["skipped"]["motion_recognition"]
    assert result["motion_recognition"] == {} and result["motion_classifier"] is None


def test_the_real_and_still_rows_take_their_regions_from_the_pseudo_label_track():
    torch.manual_seed(0)
    track = torch.rand(5, 3, 2) * 2 - 1  # (L, K, 2)
    generated = np.random.default_rng(0).uniform(-1, 1, (2, 5, 3, 2)).astype(np.float32)
    regions = region_keypoints(
        {"generated": generated, "pseudo_label_keypoints": track[None].numpy()}, track
    )
    assert torch.equal(regions["real"], track[None])
    assert torch.equal(regions["pseudo_label_keypoints"], track[None])
    assert torch.equal(regions["generated"], torch.from_numpy(generated))
    still = regions["copy_first_frame"]
    assert still.shape == (1, 5, 3, 2) and torch.equal(still[0], track[:1].expand(5, -1, -1))


def test_report_plots_and_examples_are_written(tiny, tmp_path):
    run(tiny, tmp_path / "eval")
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "**Partial report**" in report and "`fvd`: no I3D weights" in report
    for heading in ("Table 1", "Table 2", "Per action:", "keypoint sequences", "Stage 1"):
        assert heading in report
    for name in ("Ours", "Ours w/o a", "Copy first frame", "Pseudo-label keypoints -> T"):
        assert f"| {name} |" in report
    for png in ("action_accuracy.png", "fd_indomain.png", "examples.png"):
        assert (tmp_path / "eval" / png).stat().st_size > 0
    grid = read_video(tmp_path / "eval" / "examples.gif")
    assert len(grid) == LENGTH + 1 and grid.shape[1] > 2 * IMAGE_SIZE


def test_the_same_seed_gives_the_same_figures(tiny, tmp_path):
    a = run(tiny, tmp_path / "a", samples_per_video=1, max_videos=2)
    b = run(tiny, tmp_path / "b", samples_per_video=1, max_videos=2)
    c = run(tiny, tmp_path / "c", samples_per_video=1, max_videos=2, seed=1)
    for timing in ("seconds", "seconds_videos", "seconds_motion_classifier"):
        for r in (a, b, c):
            r.pop(timing)
    assert a == b
    assert a["rows"]["generated"] != c["rows"]["generated"]
    # The motion classifier does not depend on the sampling seed; the generated motions do.
    assert a["motion_classifier"] == c["motion_classifier"]
    motion_a, motion_c = a["motion_recognition"], c["motion_recognition"]
    assert motion_a["pseudo_label_keypoints"] == motion_c["pseudo_label_keypoints"]
    assert motion_a["generated"] != motion_c["generated"]
    # One sample per video: nothing to compare samples with.
    assert (
        "keypoint_diversity" not in a["rows"]["generated"]
        and "keypoint_l1" in a["rows"]["generated"]
    )


def test_missing_companions_are_reported_as_skipped(tiny, tmp_path):
    # A dataset named "tiny": no classifier ships for it.
    data = tmp_path / "tiny"
    shutil.copytree(tiny[0].data, data)
    meta = json.loads((data / "dataset.json").read_text())
    (data / "dataset.json").write_text(json.dumps({**meta, "name": "tiny"}))
    models = tiny[0]
    result = evaluate_model(models.pipeline, data, tmp_path / "eval", max_videos=2, progress=False)
    expected = {"action_accuracy", "fd_indomain", "fd_frames", "generated_no_action"}
    assert expected <= set(result["skipped"])
    assert "generated_no_action" not in result["rows"]
    assert "fd_frames" not in result["rows"]["generated"]
    assert result["rows"]["generated"]["sharpness_relative"] > 0  # needs no classifier
    assert "action_accuracy_real" not in result
    assert "train one (keyvid train classifier" in result["skipped"]["action_accuracy"]


def test_shipped_companions_are_found_by_name():
    assert shipped_companion("synth", "classifier") == "synth-classifier"
    assert shipped_companion("synth", "no-action") == "synth-no-action"
    assert shipped_companion("tiny", "classifier") is None
    assert shipped_companion("runs/synth", "no-action") is None  # a path, not a shipped name


def test_fvd_with_i3d_weights_is_skipped_for_short_videos(tiny, tmp_path):
    # The tiny model makes 5-frame videos; I3D needs 9. The file is still checked.
    torch.manual_seed(0)
    weights = tmp_path / "i3d.pt"
    torch.save(InceptionI3d().state_dict(), weights)
    result = run(tiny, tmp_path / "eval", i3d_weights=weights, max_videos=1)
    assert "at least 9 frames" in result["fvd_skipped_reason"]
    (tmp_path / "bad.pt").write_bytes(b"not weights")
    with pytest.raises(KeyvidError, match=r"bad\.pt"):
        run(tiny, tmp_path / "eval2", i3d_weights=tmp_path / "bad.pt", max_videos=1)


def test_a_classifier_of_other_classes_is_refused(tiny, tmp_path):
    motions = write_motion_dataset(tmp_path / "motions", train=1, test=1)
    other = train_classifier(
        classifier_config(motions, "optim.steps=1"), tmp_path / "clf", progress=False
    )
    with pytest.raises(KeyvidError, match="trained for the classes"):
        run(tiny, tmp_path / "eval", classifier=other)


def test_a_diffusion_model_is_evaluated_with_its_guidance(tiny, tmp_path):
    models, no_action, classifier = tiny
    diffusion = build_tiny_diffusion(models, tmp_path)
    options = dict(classifier=classifier, no_action=no_action, max_videos=2, progress=False)
    result = evaluate_model(
        diffusion, models.data, tmp_path / "e", guidance=1.5, max_train_frames=40, **options
    )
    assert result["motion_generator"] == "diffusion" and result["guidance"] == 1.5
    assert result["rows"]["generated"]["videos"] == 2
    assert result["rows"]["generated_no_action"]["videos"] == 2  # the cVAE w/o a: no guidance
    with pytest.raises(KeyvidError, match="leave guidance out"):
        run(tiny, tmp_path / "cvae", guidance=1.5)
    assert not (tmp_path / "cvae").exists()  # refused before any work


def test_a_missing_split_is_an_error(tiny, tmp_path):
    with pytest.raises(KeyvidError, match="no 'val' split"):
        run(tiny, tmp_path / "eval", split="val")


def test_cli_prints_the_report_and_refuses_incomplete_arguments(tiny, tmp_path, capsys):
    models, no_action, classifier = tiny
    base = ["evaluate", "--checkpoint", str(models.pipeline), "--data", str(models.data)]
    args = [*base, "--out", str(tmp_path / "e"), "--max-videos", "1"]
    assert main([*args, "--classifier", str(classifier), "--no-action", str(no_action)]) == 0
    out = capsys.readouterr().out
    assert "Table 2" in out and "metrics.json" in out
    assert main(base) == 2
    assert "needs --out" in capsys.readouterr().err
    assert main([*args, "--stage1-ablation", "nolabel"]) == 2
    assert "LABEL=CKPT" in capsys.readouterr().err


def test_stage1_ablations_get_their_own_rows(tiny, tmp_path):
    models = tiny[0]
    result = run(
        tiny, tmp_path / "eval", max_videos=1, stage1_ablations={"again": str(models.stage1)}
    )
    assert set(result["stage1"]) == {"model", "again"}
    assert np.isclose(
        result["stage1"]["again"]["keypoint_error"], result["stage1"]["model"]["keypoint_error"]
    )
    assert "| again |" in (tmp_path / "eval" / "report.md").read_text()


def test_too_few_videos_for_a_covariance_are_skipped_not_faked(tiny, tmp_path):
    result = run(tiny, tmp_path / "eval", max_videos=1, samples_per_video=1)
    assert "fd_indomain" not in result["rows"]["generated"]
    assert "at least 2 videos" in result["skipped"]["fd_indomain:generated"]
    assert "action_accuracy" in result["rows"]["generated"]  # what can be computed is
    assert result["complete"] is False
    with pytest.raises(KeyvidError, match="samples per video"):
        run(tiny, tmp_path / "eval", samples_per_video=0)


def test_a_model_without_the_action_has_no_w_o_a_row_and_is_not_partial_for_it(tiny, tmp_path):
    models, no_action, classifier = tiny
    result = evaluate_model(
        no_action, models.data, tmp_path / "eval", classifier=classifier, max_videos=2,
        max_train_frames=40, progress=False,
    )  # fmt: skip
    assert "generated_no_action" not in result["rows"]
    assert "generated_no_action" not in result["skipped"]
    assert any("no action condition" in w for w in result["warnings"])


def test_two_torchrun_processes_give_the_same_report(tiny, tmp_path):
    # The videos are shared out (each seeded by its index) and merged on rank 0.
    from tests.training.harness.test_distributed import keyvid

    models, no_action, classifier = tiny
    args = ["evaluate", "--checkpoint", str(models.pipeline), "--data", str(models.data),
            "--classifier", str(classifier), "--no-action", str(no_action),
            "--samples-per-video", "2", "--max-videos", "4"]  # fmt: skip
    keyvid(*args, "--out", str(tmp_path / "one"))
    keyvid(*args, "--out", str(tmp_path / "two"), processes=2)
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    for key in ("action_accuracy_real", "action_accuracy_generated", "num_videos"):
        assert two[key] == one[key], key
    for key in ("fd_indomain", "fd_indomain_copy_first_frame", "fd_frames", "sharpness_relative"):
        assert two[key] == pytest.approx(one[key], rel=1e-4), key
    assert two["rows"]["generated"]["keypoint_l1"] == pytest.approx(
        one["rows"]["generated"]["keypoint_l1"], rel=1e-5
    )
    # The sequences are put back in test-video order: the same pairs, the same figures.
    for row, metrics in one["motion_recognition"].items():
        for key, value in metrics.items():
            assert two["motion_recognition"][row][key] == pytest.approx(value, rel=1e-4), (row, key)
