"""``keyvid calibrate`` and the motion scale of ``keyvid predict``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from keyvid.cli import main
from keyvid.data.datasets import SequenceDataset
from keyvid.metrics.motion import travel_scales
from keyvid.models.load import load_motion
from keyvid.pipeline.generate import Pipeline
from tests.pipeline.tiny import LENGTH


@pytest.mark.parametrize("source", ["pipeline", "stage2"])
def test_calibrate_writes_a_copy_with_the_measured_factors(models, tmp_path, capsys, source):
    out = tmp_path / "calibrated"
    checkpoint = getattr(models, source)
    args = ["calibrate", "--checkpoint", str(checkpoint), "--data", str(models.data)]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "squats" in printed and f"wrote {out}" in printed
    generator, ckpt, raw = load_motion(out)
    original = load_motion(checkpoint)[0]
    reference = SequenceDataset(
        models.data, length=LENGTH + 1, keypoints="stage1", load_frames=False, random_start=False
    )
    torch.testing.assert_close(generator.travel_scale, travel_scales(original, reference))
    assert torch.equal(original.travel_scale, torch.ones(9))  # the source is left as it was
    assert ckpt.kind == source and raw["model"]["generator"]["calibrate_travel"] is True
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert (config["stage2"] if source == "pipeline" else config)["model"]["actions"]
    assert Pipeline.from_pretrained(out).motion.travel_scale.shape == (9,)


def test_calibrate_refuses_what_it_cannot_do(models, tmp_path, capsys, make_dot_dataset):
    out = tmp_path / "calibrated"
    out.mkdir()
    args = ["calibrate", "--checkpoint", str(models.pipeline), "--out", str(out)]
    assert main([*args, "--data", str(models.data)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    dots = make_dot_dataset(tmp_path / "dots")
    assert main([*args, "--data", str(dots), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "calibrate on the model's own dataset" in err and "Traceback" not in err
    assert main([*args, "--data", str(models.data), "--overwrite", "--keypoints", "nope"]) == 2
    assert "no pseudo-labels named 'nope'" in capsys.readouterr().err


def test_motion_scale_zero_is_a_still_video_and_bad_values_are_refused(models, image, tmp_path):
    pipe = Pipeline.from_pretrained(models.pipeline)
    still = pipe(image, "squats", frames=3, motion_scale=0.0)
    assert np.allclose(still.keypoints, still.keypoints[:, :1])
    moving = pipe(image, "squats", frames=3, motion_scale=5.0)
    assert not np.allclose(moving.keypoints, moving.keypoints[:, :1])
    args = ["predict", "--checkpoint", str(models.pipeline), "--image", str(image)]
    args += ["--action", "squats", "--out", str(tmp_path / "v.gif"), "--frames", "2"]
    assert main([*args, "--motion-scale", "-1"]) == 2
    assert main([*args, "--motion-scale", "1"]) == 0
    assert (tmp_path / "v.gif").exists()
