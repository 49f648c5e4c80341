import pytest
import torch

from keyvid.models import (
    DiscriminatorConfig,
    ImageDiscriminator,
    KeypointTranslator,
    Stage1ModelConfig,
)
from keyvid.models.detector import DetectorConfig
from keyvid.models.translator import Translator, TranslatorConfig


def tiny(**kw) -> Stage1ModelConfig:
    return Stage1ModelConfig(
        num_keypoints=5,
        image_size=32,
        detector=DetectorConfig(channels=4, num_down=2),
        translator=TranslatorConfig(channels=4, max_channels=16, feature_size=8, sigma=0.15),
        **kw,
    )


@pytest.fixture
def frames():
    g = torch.Generator().manual_seed(0)
    return torch.rand(3, 3, 32, 32, generator=g), torch.rand(3, 3, 32, 32, generator=g)


def test_shared_settings_reach_every_network():
    cfg = tiny(analogy=False, mask=False)
    assert cfg.detector.num_keypoints == cfg.translator.num_keypoints == 5
    assert cfg.detector.image_size == cfg.translator.image_size == 32
    assert not cfg.translator.analogy and not cfg.translator.mask


def test_shapes_and_ranges(frames):
    torch.manual_seed(0)
    model = KeypointTranslator(tiny())
    out = model(*frames)
    assert out.source_kp.shape == out.target_kp.shape == (3, 5, 2)
    assert out.source_kp.abs().max() <= 1.0
    tr = out.translation
    assert tr.image.shape == tr.synthesized.shape == (3, 3, 32, 32)
    assert tr.mask.shape == (3, 1, 32, 32)
    for t in (tr.image, tr.synthesized, tr.mask):
        assert t.min() >= 0 and t.max() <= 1
    # v̂ = m·v + (1 − m)·s (Eq. 4)
    torch.testing.assert_close(tr.image, tr.mask * frames[0] + (1 - tr.mask) * tr.synthesized)


def test_heatmap_stride_sets_heatmap_resolution(frames):
    model = KeypointTranslator(tiny())
    assert model.detector.heatmaps(frames[0]).shape == (3, 5, 32, 32)
    cfg = tiny()
    cfg.detector.heatmap_stride = 2
    assert KeypointTranslator(cfg).detector.heatmaps(frames[0]).shape == (3, 5, 16, 16)


def test_gradients_reach_the_detector_through_the_translator(frames):
    torch.manual_seed(0)
    model = KeypointTranslator(tiny())
    out = model(*frames)
    (out.translation.image - frames[1]).abs().mean().backward()
    grads = [p.grad for p in model.detector.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.mark.parametrize("skips", [False, True])
def test_encoding_once_gives_the_same_translation(frames, skips):
    torch.manual_seed(0)
    cfg = tiny()
    cfg.translator.skips = skips
    model = KeypointTranslator(cfg).eval()
    src, tgt = frames
    kp_s, kp_t = model.detector(src), model.detector(tgt)
    direct = model.translator(src, kp_s, kp_t)
    feats = model.translator.encode(src)
    reused = model.translator(src, kp_s, kp_t, features=feats)
    torch.testing.assert_close(direct.image, reused.image)


def test_ablation_switches_change_the_architecture(frames):
    full = KeypointTranslator(tiny())
    no_analogy = KeypointTranslator(tiny(analogy=False))
    no_mask = KeypointTranslator(tiny(mask=False))
    fuse_in = lambda m: m.translator.fuse[0][0].in_channels  # noqa: E731
    # The analogy adds the K source keypoint maps to the translator's input.
    assert fuse_in(full) - fuse_in(no_analogy) == 5
    assert full.translator.head.out_channels == 4 and no_mask.translator.head.out_channels == 3
    out = no_mask(*frames)
    assert out.translation.mask is None
    torch.testing.assert_close(out.translation.image, out.translation.synthesized)
    # Without the analogy the source keypoints do not affect the output.
    no_analogy.eval()
    a = no_analogy.translator(frames[0], torch.zeros(3, 5, 2), torch.full((3, 5, 2), 0.3))
    b = no_analogy.translator(frames[0], torch.ones(3, 5, 2) * -0.5, torch.full((3, 5, 2), 0.3))
    torch.testing.assert_close(a.image, b.image)


def test_discriminator_gives_patch_logits_and_features_at_every_scale():
    d = ImageDiscriminator(DiscriminatorConfig(channels=8, num_layers=3, scales=2))
    fine, coarse = d(torch.rand(2, 3, 32, 32))
    assert [a.shape[1:] for a in fine] == [(8, 16, 16), (16, 8, 8), (32, 4, 4), (1, 4, 4)]
    assert coarse[-1].shape == (2, 1, 2, 2)  # the same network on the 2× smaller image


def test_heatmap_scale_sharpens_keypoints(frames):
    torch.manual_seed(0)
    plain = KeypointTranslator(tiny()).detector
    cfg = tiny()
    cfg.detector.heatmap_scale = 16.0
    sharp = KeypointTranslator(cfg).detector
    sharp.load_state_dict(plain.state_dict())
    # Same weights: a larger scale moves keypoints away from the flat-softmax centre.
    assert sharp(frames[0]).std(dim=0).mean() > plain(frames[0]).std(dim=0).mean()


def test_transport_moves_features_from_source_to_target_keypoint():
    from keyvid.models.translator import transport_features

    features = torch.zeros(1, 2, 9, 9)
    features[0, :, 2, 2] = torch.tensor([5.0, -3.0])  # something at (x, y) = (-0.5, -0.5)
    src = torch.tensor([[[-0.5, -0.5]]])
    tgt = torch.tensor([[[0.5, 0.25]]])  # pixel (row 5, col 6)
    out = transport_features(features, src, tgt, sigma=0.1)
    torch.testing.assert_close(out[0, :, 5, 6], torch.tensor([5.0, -3.0]))
    assert out[0, :, 2, 2].abs().max() < 1e-3  # erased where it was


def test_without_the_analogy_the_translator_never_sees_source_keypoints(frames):
    model = KeypointTranslator(tiny(analogy=False))
    src_kp = torch.zeros(3, 5, 2, requires_grad=True)
    out = model.translator(frames[0], src_kp, torch.full((3, 5, 2), 0.3))
    out.image.sum().backward()
    assert src_kp.grad is None


@pytest.mark.parametrize("switch", ["transport", "warp"])
def test_source_keypoint_switches_need_the_analogy(switch):
    from keyvid.config import from_dict
    from keyvid.errors import KeyvidError

    with pytest.raises(KeyvidError, match=f"translator.{switch} needs model.analogy=true"):
        from_dict(Stage1ModelConfig, {"analogy": False, "translator": {switch: True}})
    with pytest.raises(ValueError, match="needs the analogy"):
        Translator(TranslatorConfig(analogy=False, **{switch: True}))


def test_multiscale_maps_feed_every_decoder_stage(frames):
    plain = KeypointTranslator(tiny())
    cfg = tiny()
    cfg.translator.multiscale_maps = True
    multi = KeypointTranslator(cfg)
    for a, b in zip(plain.translator.decoder, multi.translator.decoder, strict=True):
        assert b[0][0].in_channels - a[0][0].in_channels == 2 * 5  # k' and k maps
    assert multi(*frames).translation.image.shape == (3, 3, 32, 32)


def test_warp_fetches_the_source_keypoint_neighbourhood_at_the_target():
    from keyvid.models.translator import warp_by_keypoints

    image = torch.zeros(1, 1, 33, 33)
    image[0, 0, 7:10, 7:10] = 1.0  # a 3×3 blob centred on pixel (8, 8): (x, y) = (-0.5, -0.5)
    src = torch.tensor([[[-0.5, -0.5]]])
    tgt = torch.tensor([[[0.5, 0.25]]])  # pixel (row 20, col 24)
    out = warp_by_keypoints(image, src, tgt, sigma=0.1, background=0.01)
    assert out[0, 0, 20, 24] > 0.95  # arrived at the target keypoint
    assert out[0, 0, 8, 8] == 1.0  # far from every target keypoint: copied unchanged
    still = warp_by_keypoints(image, src, src, sigma=0.1, background=0.01)
    torch.testing.assert_close(still, image)  # no motion, no change


def test_warp_switch_makes_the_copy_path_follow_the_keypoints(frames):
    for warp in (False, True):
        torch.manual_seed(0)
        cfg = tiny()
        cfg.translator.warp = warp
        model = KeypointTranslator(cfg)
        kp = torch.zeros(3, 5, 2, requires_grad=True)
        out = model.translator(frames[0], kp, torch.full((3, 5, 2), 0.3))
        residual = out.image - (1 - out.mask) * out.synthesized  # m · (warped) reference
        moved = not torch.allclose(residual, out.mask * frames[0])
        assert moved == warp


def test_encode_returns_features_at_every_resolution(frames):
    feats = KeypointTranslator(tiny()).translator.encode(frames[0])
    # image 32, feature_size 8: 32 -> 16 -> 8, widths 4, 8, 16
    assert [tuple(f.shape) for f in feats] == [(3, 4, 32, 32), (3, 8, 16, 16), (3, 16, 8, 8)]


def test_skips_feed_the_reference_features_to_each_decoder_stage(frames):
    plain = KeypointTranslator(tiny())
    cfg = tiny()
    cfg.translator.skips = True
    skips = KeypointTranslator(cfg).eval()
    extra = [
        b[0][0].in_channels - a[0][0].in_channels
        for a, b in zip(plain.translator.decoder, skips.translator.decoder, strict=True)
    ]
    assert extra == [8, 4]  # the encoder's 16×16 and 32×32 widths
    # The finest reference pixels now reach s directly: with the coarse features fixed,
    # changing the full-resolution ones changes the output.
    src, tgt = frames
    kp_s, kp_t = skips.detector(src), skips.detector(tgt)
    feats = skips.translator.encode(src)
    edited = (torch.zeros_like(feats[0]), *feats[1:])
    a = skips.translator(src, kp_s, kp_t, features=feats).synthesized
    b = skips.translator(src, kp_s, kp_t, features=edited).synthesized
    assert (a - b).abs().max() > 1e-3
