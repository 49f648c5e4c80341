"""The in-domain action classifier: shapes, features, gradients, config checks."""

import pytest
import torch

from keyvid.models.classifier import ActionClassifier, ActionClassifierConfig

TINY = ActionClassifierConfig(num_actions=5, frames=8, channels=4, features=16)


def test_logits_and_features_have_the_configured_sizes():
    torch.manual_seed(0)
    model = ActionClassifier(TINY).eval()
    clip = torch.rand(3, 8, 3, 32, 32)  # (B, T, 3, H, W)
    assert model(clip).shape == (3, 5)
    feats = model.features(clip)
    assert feats.shape == (3, 16) and (feats >= 0).all()  # after the ReLU
    # Other clip lengths and sizes pool to the same shapes.
    assert model(torch.rand(2, 12, 3, 64, 64)).shape == (2, 5)


def test_the_clips_are_told_apart_and_gradients_reach_the_first_layer():
    torch.manual_seed(0)
    model = ActionClassifier(TINY)
    clip = torch.rand(2, 8, 3, 32, 32)
    model(clip)[:, 0].sum().backward()
    assert model.backbone[0][0].weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        a, b = model.features(clip)
    assert not torch.allclose(a, b)


def test_one_sample_in_eval_mode_is_deterministic():
    torch.manual_seed(0)
    model = ActionClassifier(TINY).eval()
    clip = torch.rand(1, 8, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(clip), model(clip))


def test_frame_features_see_each_frame_alone_and_add_no_parameters():
    torch.manual_seed(0)
    model = ActionClassifier(TINY).eval()
    keys = set(model.state_dict())
    frames = torch.rand(5, 3, 32, 32)  # (N, 3, H, W)
    with torch.no_grad():
        feats = model.frame_features(frames)
        alone = model.frame_features(frames[2:3])
    assert feats.shape == (5, 2 * TINY.channels) and (feats >= 0).all()  # after a ReLU
    assert torch.allclose(feats[2:3], alone, atol=1e-6)  # no frame sees another
    assert not torch.allclose(feats[0], feats[1])
    assert set(model.state_dict()) == keys


def test_action_names_must_match_the_class_count():
    with pytest.raises(ValueError, match="2 action names for 5 classes"):
        ActionClassifier(ActionClassifierConfig(num_actions=5, actions=("a", "b")))
