"""ACTOR/MDM motion metrics: accuracy, FID, diversity and multimodality of sequence sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from keyvid.errors import KeyvidError
from keyvid.metrics.motion_recognition import (
    diversity,
    fit_sequence_classifier,
    motion_recognition_metrics,
    multimodality,
    random_pairs,
)
from tests.models.test_sequence_classifier import moving_sequences


@pytest.fixture(scope="module")
def fitted():
    """A classifier fitted on 64 up-or-right sequences, and 40 held-out ones."""
    train = moving_sequences(64, seed=0)
    return fit_sequence_classifier(*train, 2, steps=60, seed=0), train, moving_sequences(40, seed=1)


def test_pairs_are_distinct_capped_and_reproducible():
    pairs = random_pairs(30, 200, np.random.default_rng(0))
    assert pairs.shape == (200, 2) and (pairs[:, 0] < pairs[:, 1]).all()
    assert len({tuple(p) for p in pairs.tolist()}) == 200  # no pair twice
    assert np.array_equal(pairs, random_pairs(30, 200, np.random.default_rng(0)))
    few = random_pairs(4, 200, np.random.default_rng(0))  # only 6 pairs exist
    assert sorted(map(tuple, few.tolist())) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert random_pairs(1, 20, np.random.default_rng(0)).shape == (0, 2)


def test_diversity_and_multimodality_of_hand_made_features():
    features = torch.tensor([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0], [10.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # Within action 0 the one pair is 5 apart, within action 1 it is 1 apart.
    assert multimodality(features, labels) == pytest.approx(3.0)
    all_pairs = [5.0, 10.0, np.hypot(10, 1), np.hypot(7, 4), np.hypot(7, 3), 1.0]
    assert diversity(features) == pytest.approx(np.mean(all_pairs))  # 6 pairs: all taken
    assert diversity(features[:1]) is None
    assert multimodality(features, torch.tensor([0, 1, 2, 3])) is None  # no action has a pair
    # Actions with a single sequence are left out of the average.
    assert multimodality(features, torch.tensor([0, 0, 1, 2])) == pytest.approx(5.0)


def test_identical_sets_are_at_fid_zero_and_separable_real_data_is_recognised(fitted):
    classifier, train, (sequences, labels) = fitted
    rows = {"real": (sequences, labels), "same": (sequences.clone(), labels.clone())}
    out = motion_recognition_metrics(classifier, rows, "real", train=train)
    assert "fid" not in out["real"] and out["same"]["fid"] == pytest.approx(0.0, abs=1e-6)
    assert out["real"]["accuracy"] >= 0.9 and out["real"]["sequences"] == 40
    assert out["same"]["diversity"] == pytest.approx(out["real"]["diversity"])
    assert out["real"]["fid_train"] >= 0
    # Two well-separated actions: pairs of one action are closer than pairs of any.
    assert out["real"]["multimodality"] < out["real"]["diversity"]


def test_a_set_of_one_repeated_sequence_has_no_diversity_and_is_far_from_real(fitted):
    classifier, _, (sequences, labels) = fitted
    repeated = sequences[:1].expand(20, -1, -1, -1)  # (20, T, K, 2): one motion
    wrong = 1 - labels  # the real motions, each with the other action's label
    rows = {
        "real": (sequences, labels),
        "repeated": (repeated, labels[:1].expand(20)),
        "wrong": (sequences, wrong),
        "one": (sequences[:1], labels[:1]),
    }
    out = motion_recognition_metrics(classifier, rows, "real")
    repeated_out = out["repeated"]
    assert repeated_out["diversity"] == 0 and repeated_out["multimodality"] == 0
    assert repeated_out["fid"] > out["wrong"]["fid"]  # the same motions, only mislabelled
    assert out["wrong"]["fid"] == pytest.approx(0.0, abs=1e-6)
    assert out["wrong"]["accuracy"] <= 0.1
    assert "fid_train" not in out["real"]  # no training set given
    # One sequence: an accuracy, but no covariance and no pair.
    assert set(out["one"]) == {"sequences", "accuracy"}


def test_bad_inputs_are_refused():
    sequences, labels = moving_sequences(4)
    with pytest.raises(KeyvidError, match="action labels"):
        fit_sequence_classifier(sequences, labels + 5, 2, steps=1)
    with pytest.raises(KeyvidError, match=r"\(N, T, K, 2\)"):
        fit_sequence_classifier(sequences[..., 0], labels, 2, steps=1)
    classifier = fit_sequence_classifier(sequences, labels, 2, steps=1)
    with pytest.raises(KeyvidError, match="reference row"):
        motion_recognition_metrics(classifier, {"a": (sequences, labels)}, "b")
