"""Motion metrics on a generator whose output is known: a fresh one stands still."""

import pytest
import torch

from keyvid.data.datasets import SequenceDataset
from keyvid.evaluation.motion import motion_metrics
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
