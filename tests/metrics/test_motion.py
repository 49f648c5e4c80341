"""Motion metrics on a generator whose output is known: a fresh one stands still."""

import pytest
import torch

from keyvid.data.datasets import SequenceDataset
from keyvid.metrics.motion import TRAVEL_BOUNDS, motion_metrics, travel_scales
from keyvid.models.motion import MotionGenerator, MotionGeneratorConfig
from keyvid.pipeline.pseudolabels import extract_keypoints
from tests.pipeline.tiny import synthetic_data, tiny_detector


@pytest.fixture(scope="module")
def sequences(tmp_path_factory):
    data = synthetic_data(tmp_path_factory.mktemp("motion"))
    extract_keypoints(tiny_detector(), data, name="stage1", source={}, progress=False)
    return SequenceDataset(
        data, split="test", length=5, keypoints="stage1", load_frames=False, random_start=False
    )


def test_a_generator_that_stands_still_scores_the_stand_still_error(sequences):
    torch.manual_seed(0)
    # Offsets head is zero-initialised: every sample is k0 repeated, whatever z.
    generator = MotionGenerator(
        MotionGeneratorConfig(num_keypoints=4, hidden=8, latent=4, length=4)
    )
    metrics = motion_metrics(generator, sequences, samples=3)
    seq = torch.stack([sequences[i]["keypoints"] for i in range(len(sequences))])
    still = float((seq[:, 1:] - seq[:, :1]).abs().mean())
    assert metrics["l1"] == pytest.approx(still, rel=1e-5)
    assert metrics["l1_best"] == pytest.approx(still, rel=1e-5)
    assert metrics["motion_data"] == pytest.approx(still, rel=1e-5)
    assert metrics["diversity"] == 0.0 and metrics["motion"] == 0.0


def test_samples_that_move_are_diverse_and_counted(sequences):
    torch.manual_seed(0)
    generator = MotionGenerator(
        MotionGeneratorConfig(num_keypoints=4, hidden=8, latent=4, length=4)
    )
    torch.nn.init.normal_(generator.to_offsets.weight, std=0.5)
    metrics = motion_metrics(generator, sequences, samples=3)
    assert metrics["diversity"] > 0 and metrics["motion"] > 0
    assert metrics["l1_best"] <= metrics["l1"]
    with pytest.raises(ValueError, match="at least 2 samples"):
        motion_metrics(generator, sequences, samples=1)


def moving_generator(**kw) -> MotionGenerator:
    torch.manual_seed(0)
    generator = MotionGenerator(
        MotionGeneratorConfig(num_keypoints=4, num_actions=9, hidden=8, latent=4, length=4, **kw)
    )
    torch.nn.init.normal_(generator.to_offsets.weight, std=0.05)
    return generator.eval()


@pytest.mark.parametrize("action", [True, False])
def test_calibrated_samples_travel_as_far_as_the_data(sequences, action):
    generator = moving_generator(action=action)
    scales = travel_scales(generator, sequences, samples=3, bounds=(1e-6, 1e6))
    assert scales.shape == ((9,) if action else (1,))
    assert torch.isfinite(scales).all() and not torch.equal(scales, torch.ones_like(scales))
    generator.travel_scale.copy_(scales)
    # Same seed, same raw draws: scaled, each action's mean travel is now the data's.
    after = travel_scales(generator, sequences, samples=3, bounds=(1e-6, 1e6))
    torch.testing.assert_close(after, scales)  # the measurement reads raw samples
    seq = torch.stack([sequences[i]["keypoints"] for i in range(len(sequences))])
    labels = torch.stack([sequences[i]["action"] for i in range(len(sequences))])
    rng = torch.Generator().manual_seed(0)  # the draws the measurement made, now scaled
    draws = torch.stack([generator.sample(seq[:, 0], labels, 4, rng) for _ in range(3)])
    group = labels if action else torch.zeros_like(labels)
    for a in group.unique():
        m = group == a
        data = (seq[m, 1:] - seq[m, :1]).abs().mean()
        moved = (draws[:, m] - seq[None, m, :1]).abs().mean()
        assert float(moved) == pytest.approx(float(data), rel=1e-4)


def test_calibration_is_bounded_and_keeps_unseen_actions_at_one(sequences):
    still = MotionGenerator(
        MotionGeneratorConfig(num_keypoints=4, num_actions=12, hidden=8, latent=4, length=4)
    )  # stands still (zero offsets head): an unbounded ratio would be infinite
    scales = travel_scales(still, sequences, samples=2)
    present = torch.stack([sequences[i]["action"] for i in range(len(sequences))]).unique()
    assert torch.all(scales[present] == TRAVEL_BOUNDS[1])
    absent = [a for a in range(12) if a not in present.tolist()]
    assert absent and torch.all(scales[absent] == 1.0)
