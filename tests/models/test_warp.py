"""The warping translator (translator.kind: warp): motions, dense flow, contract, configs."""

import pytest
import torch

from keyvid.config import load_config
from keyvid.errors import KeyvidError
from keyvid.models import KeypointTranslator, Stage1ModelConfig
from keyvid.models.detector import DetectorConfig
from keyvid.models.keypoints import gaussian_maps
from keyvid.models.translator import TranslatorConfig
from keyvid.models.warp import (
    DenseMotion,
    Hourglass,
    WarpTranslator,
    identity_grid,
    sample,
    sparse_motions,
)


def tiny_translator(**kw) -> TranslatorConfig:
    base = dict(
        kind="warp",
        num_keypoints=5,
        image_size=32,
        channels=4,
        max_channels=16,
        feature_size=8,
        sigma=0.15,
        motion_channels=4,
        motion_max_channels=16,
        motion_depth=2,
    )
    return TranslatorConfig(**{**base, **kw})


def tiny(**kw) -> Stage1ModelConfig:
    return Stage1ModelConfig(
        num_keypoints=5,
        image_size=32,
        detector=DetectorConfig(channels=4, num_down=2),
        translator=tiny_translator(),
        **kw,
    )


@pytest.fixture
def frames():
    g = torch.Generator().manual_seed(0)
    return torch.rand(3, 3, 32, 32, generator=g), torch.rand(3, 3, 32, 32, generator=g)


def dot_image(x: float, y: float, size: int = 33) -> torch.Tensor:
    """(1, 3, size, size) a bright Gaussian dot at (x, y) in [-1, 1] units."""
    return gaussian_maps(torch.tensor([[[x, y]]]), size, 0.08).expand(1, 3, -1, -1).clone()


def peak(image: torch.Tensor) -> torch.Tensor:
    """(x, y) in [-1, 1] of the brightest pixel of a (1, C, H, W) image."""
    h, w = image.shape[-2:]
    i = int(image[0, 0].argmax())
    return torch.tensor([i % w / (w - 1) * 2 - 1, i // w / (h - 1) * 2 - 1])


def test_a_keypoint_motion_carries_content_from_source_to_target_keypoint():
    image = dot_image(-0.5, 0.0)  # the dot sits on the source keypoint
    source, target = torch.tensor([[[-0.5, 0.0]]]), torch.tensor([[[0.25, 0.5]]])
    motions = sparse_motions(source, target, (33, 33))  # (1, 2, 33, 33, 2)
    assert motions.shape == (1, 2, 33, 33, 2)
    moved = sample(image, motions[:, 1])
    assert torch.allclose(peak(moved), torch.tensor([0.25, 0.5]), atol=1 / 16)
    still = sample(image, motions[:, 0])  # the background motion is the identity
    assert torch.allclose(still, image, atol=1e-5)


def test_unmoved_keypoints_give_the_identity_flow_whatever_the_weights():
    torch.manual_seed(0)
    motion = DenseMotion(tiny_translator())
    images, kp = torch.rand(2, 3, 32, 32), torch.rand(2, 5, 2) * 2 - 1
    out = motion(images, kp, kp)
    assert out.flow.shape == (2, 16, 16, 2) and out.occlusion.shape == (2, 1, 16, 16)
    assert torch.allclose(out.weights.sum(1), torch.ones(2, 16, 16), atol=1e-5)
    assert ((out.occlusion > 0) & (out.occlusion < 1)).all()
    assert torch.allclose(out.flow, identity_grid(16, 16, like=images).expand(2, -1, -1, -1))


def test_hourglass_keeps_the_resolution():
    net = Hourglass(7, channels=4, max_channels=16, depth=3)
    y = net(torch.rand(2, 7, 16, 16))
    assert y.shape == (2, net.out_channels, 16, 16) and net.out_channels == 4 + 7


@pytest.mark.parametrize("mask", [True, False])
def test_output_contract_matches_the_analogy_translator(frames, mask):
    torch.manual_seed(0)
    model = KeypointTranslator(tiny(mask=mask))
    assert isinstance(model.translator, WarpTranslator)
    out = model(*frames).translation
    assert out.image.shape == out.synthesized.shape == (3, 3, 32, 32)
    assert float(out.image.detach().min()) >= 0 and float(out.image.detach().max()) <= 1
    if mask:
        assert out.mask.shape == (3, 1, 32, 32)
    else:
        assert out.mask is None and out.image is out.synthesized


def test_with_the_mask_on_copy_the_input_is_copied_where_nothing_moves(frames):
    torch.manual_seed(0)
    translator = WarpTranslator(tiny_translator())
    with torch.no_grad():  # force m = 1: v̂ is the reference sampled at the dense flow
        translator.head.bias[3] = 50.0
    kp = torch.rand(3, 5, 2) * 2 - 1
    out = translator(frames[0], kp, kp)
    assert torch.allclose(out.image, frames[0], atol=1e-5)


def test_gradients_reach_detector_dense_motion_and_decoder(frames):
    torch.manual_seed(0)
    model = KeypointTranslator(tiny())
    model(*frames).translation.image.mean().backward()
    for name in ("detector", "translator.dense_motion", "translator.encoder", "translator.head"):
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(name)]
        assert grads and all(g is not None for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, name


def test_encoding_once_gives_the_same_translation(frames):
    torch.manual_seed(0)
    translator = WarpTranslator(tiny_translator()).eval()
    kp = torch.rand(3, 5, 2) * 2 - 1, torch.rand(3, 5, 2) * 2 - 1
    once = translator(frames[0], *kp, features=translator.encode(frames[0]))
    assert torch.equal(once.image, translator(frames[0], *kp).image)


def test_config_checks_name_the_key_and_the_fix():
    with pytest.raises(KeyvidError, match=r"kind=warp needs model\.analogy=true"):
        tiny(analogy=False)
    with pytest.raises(KeyvidError, match=r"model\.translator\.skips belongs to the analogy"):
        Stage1ModelConfig(translator=TranslatorConfig(kind="warp", skips=True))
    with pytest.raises(KeyvidError, match="kind"):
        load_config(Stage1ModelConfig, None, ["translator.kind=flow"])
    cfg = load_config(Stage1ModelConfig, None, ["translator.kind=warp"])
    assert cfg.translator.kind == "warp"


def test_a_detector_reading_a_smaller_copy_drives_a_larger_translator():
    from keyvid.models.detector import KeypointDetector, reading

    small = DetectorConfig(num_keypoints=5, image_size=32, channels=4, num_down=2)
    large = DetectorConfig(num_keypoints=5, image_size=64, channels=4, num_down=2, input_size=32)
    assert reading(small) == reading(large)
    torch.manual_seed(0)
    q32 = KeypointDetector(small).eval()
    q64 = KeypointDetector(large).eval()
    q64.load_state_dict(q32.state_dict())
    image = torch.rand(2, 3, 32, 32)
    big = image.repeat_interleave(2, -1).repeat_interleave(2, -2)  # the same picture at 64²
    assert torch.allclose(q64(big), q32(image), atol=1e-6)
    with pytest.raises(KeyvidError, match="input_size 24 must divide"):
        Stage1ModelConfig(image_size=64, detector=DetectorConfig(input_size=24))


def test_first_order_motions_recover_a_rotation_and_scale():
    from keyvid.models.warp import local_similarity

    g = torch.Generator().manual_seed(0)
    target = torch.rand(1, 12, 2, generator=g) - 0.5  # spread over [-0.5, 0.5]²
    angle = torch.tensor(0.4)
    rotation = torch.stack([torch.stack([angle.cos(), -angle.sin()]),
                            torch.stack([angle.sin(), angle.cos()])])  # fmt: skip
    rotation = 1.2 * rotation  # and 20 % larger
    source = target @ rotation.T  # k = R k'
    jacobians = local_similarity(source, target, reach=0.3)  # (1, 12, 2, 2)
    assert torch.allclose(jacobians, rotation.expand(1, 12, 2, 2), atol=0.01)
    same = local_similarity(target, target, 0.3)
    assert torch.allclose(same, torch.eye(2).expand(1, 12, 2, 2), atol=1e-6)
    # A keypoint far from every other keeps J = I.
    lone = torch.tensor([[[0.0, 0.0], [0.9, 0.9]]])
    assert torch.allclose(local_similarity(lone * 1.5, lone, 0.05), torch.eye(2), atol=1e-3)
    identity = torch.eye(2).expand(1, 12, 2, 2)
    assert torch.allclose(
        sparse_motions(source, target, (8, 8), identity), sparse_motions(source, target, (8, 8))
    )
    # The rotated motion maps every target pixel z to R z, the rigid backward warp.
    motions = sparse_motions(source, target, (8, 8), jacobians)
    z = identity_grid(8, 8, like=source)
    assert torch.allclose(motions[0, 3], z @ rotation.T, atol=0.01)


def test_first_order_translator_runs_and_the_order_is_checked(frames):
    torch.manual_seed(0)
    model = KeypointTranslator(tiny())
    model.translator.config.motion_order = 1
    out = model(*frames).translation
    assert torch.isfinite(out.image).all()
    with pytest.raises(KeyvidError, match="motion_order is 2"):
        Stage1ModelConfig(translator=TranslatorConfig(kind="warp", motion_order=2))


def test_the_mixing_prior_moves_pixels_near_a_keypoint_with_it_from_step_zero():
    torch.manual_seed(0)
    motion = DenseMotion(tiny_translator(num_keypoints=1, motion_prior=8.0))
    source, target = torch.tensor([[[-0.5, 0.0]]]), torch.tensor([[[0.3, 0.0]]])
    out = motion(torch.rand(1, 3, 32, 32), source, target)  # flow at 16²
    z = identity_grid(16, 16, like=source)
    on_target = out.flow[0, 8, 10]  # x = 0.33: the pixel nearest k' = (0.3, 0)
    moved = (z[8, 10, 0] - on_target[0]) / 0.8  # fraction of the keypoint's motion, x
    assert moved > 0.7 and torch.allclose(on_target[1], z[8, 10, 1])
    assert torch.allclose(out.flow[0, 8, 0], z[8, 0], atol=0.05)  # far: stays


def test_multiscale_maps_let_the_decoder_see_the_target_pose(frames):
    torch.manual_seed(0)
    plain = WarpTranslator(tiny_translator())
    posed = WarpTranslator(tiny_translator(multiscale_maps=True))
    extra = 2 * 5  # G(k') and G(k) of the 5 keypoints at every decoder stage
    for a, b in zip(plain.decoder, posed.decoder, strict=True):
        assert b[0][0].in_channels == a[0][0].in_channels + extra
    kp = torch.rand(3, 5, 2) * 2 - 1
    target = kp.clone().requires_grad_(True)
    with torch.no_grad():  # force m = 0: v̂ = s, so the pose reaches the output through s
        posed.head.bias[3] = -50.0
    posed(frames[0], kp, target).image.sum().backward()
    assert target.grad.abs().sum() > 0
