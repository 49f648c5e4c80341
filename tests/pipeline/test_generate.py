"""Inference: one image + an action -> videos, motion transfer, and input images of any kind."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from keyvid.checkpoint import save_checkpoint
from keyvid.config import load_config, to_dict
from keyvid.data.format import PreparedDataset
from keyvid.errors import KeyvidError
from keyvid.models.stage1 import KeypointTranslator
from keyvid.pipeline.generate import Generation, Pipeline, prepare_image, square_image
from keyvid.pipeline.loading import export_pipeline
from keyvid.training.config import Stage1Config
from tests.pipeline.tiny import (
    IMAGE_SIZE,
    LENGTH,
    NUM_KEYPOINTS,
    STAGE1_TINY,
    build_tiny_diffusion,
)

S = IMAGE_SIZE


def as_uint8(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> (H, W, 3) uint8, as the pipeline writes frames."""
    return (x[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


# -- generation -------------------------------------------------------------------------------


def test_shapes_and_the_first_frame(pipe, image):
    result = pipe(image, "squats", frames=5, samples=3, seed=0)
    assert result.frames.shape == (3, 6, S, S, 3) and result.frames.dtype == np.uint8
    assert result.keypoints.shape == (3, 6, NUM_KEYPOINTS, 2)
    assert result.masks.shape == (3, 6, S, S)
    assert result.action == "squats"
    x = prepare_image(image, S)
    for sample in result.frames:
        np.testing.assert_array_equal(sample[0], as_uint8(x))
    k0 = pipe.stage1.detector(x)[0].detach().numpy()
    np.testing.assert_allclose(result.keypoints[:, 0], np.broadcast_to(k0, (3, NUM_KEYPOINTS, 2)))
    assert (result.masks[:, 0] == 1).all()
    assert (result.masks >= 0).all() and (result.masks <= 1).all()
    assert np.isfinite(result.keypoints).all()


def test_the_seed_fixes_the_videos(pipe, image):
    a = pipe(image, "squats", frames=5, samples=3, seed=0)
    b = pipe(image, "squats", frames=5, samples=3, seed=0)
    for field in ("frames", "keypoints", "masks"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = pipe(image, "squats", frames=5, samples=3, seed=1)
    assert not np.array_equal(a.keypoints[:, 1:], c.keypoints[:, 1:])
    # Samples of one call are different draws.
    assert not np.array_equal(a.keypoints[0, 1:], a.keypoints[1, 1:])


def test_frames_beyond_the_training_length(pipe, image):
    frames = 3 * LENGTH + 1
    result = pipe(image, 0, frames=frames, samples=1, seed=0)
    assert result.frames.shape == (1, frames + 1, S, S, 3)
    assert np.isfinite(result.keypoints).all()
    # The first training-length segment is what a short call draws with the same seed.
    short = pipe(image, 0, frames=LENGTH, samples=1, seed=0)
    np.testing.assert_array_equal(result.keypoints[:, : LENGTH + 1], short.keypoints)


@pytest.mark.parametrize("name", ["pull_ups", "Pull Ups", "PULL-UPS", "  pull   ups ", 1, "1"])
def test_an_action_by_name_in_any_form_or_by_index(pipe, image, name):
    expected = pipe(image, "pull_ups", frames=3, seed=0)
    result = pipe(image, name, frames=3, seed=0)
    assert result.action == "pull_ups"
    np.testing.assert_array_equal(result.keypoints, expected.keypoints)
    np.testing.assert_array_equal(result.frames, expected.frames)


def test_the_action_changes_the_motion(pipe, image):
    a = pipe(image, "squats", frames=3, seed=0)
    b = pipe(image, "golf_swing", frames=3, seed=0)
    assert not np.array_equal(a.keypoints, b.keypoints)


def test_an_unknown_action_names_the_closest(pipe, image):
    with pytest.raises(KeyvidError, match=r"unknown action 'squat' \(did you mean 'squats'\?\)"):
        pipe(image, "squat", frames=2)
    with pytest.raises(KeyvidError, match="choose one of: tennis_serve, pull_ups"):
        pipe(image, "xyzzy", frames=2)
    with pytest.raises(KeyvidError, match="unknown action 9"):
        pipe(image, 9, frames=2)
    with pytest.raises(KeyvidError, match="needs an action"):
        pipe(image, None, frames=2)


@pytest.mark.parametrize(
    ("frames", "samples"), [(0, 1), (10**6, 1), (-3, 1), (2.5, 1), (True, 1), (2, 0), (2, 65)]
)
def test_counts_out_of_range_are_refused(pipe, image, frames, samples):
    with pytest.raises(KeyvidError, match="must be a whole number"):
        pipe(image, 0, frames=frames, samples=samples)


def test_a_stage2_checkpoint_brings_its_stage1(models, pipe, image):
    direct = Pipeline.from_pretrained(models.stage2)  # stage 1 from its config's `stage1`
    assert direct.actions == pipe.actions
    a = direct(image, "squats", frames=4, samples=2, seed=3)
    b = pipe(image, "squats", frames=4, samples=2, seed=3)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)


@pytest.fixture(scope="module")
def diffusion(models, tmp_path_factory):
    return Pipeline.from_pretrained(build_tiny_diffusion(models, tmp_path_factory.mktemp("d")))


def test_a_diffusion_pipeline_generates_and_takes_guidance(diffusion, image):
    assert diffusion.motion.config.kind == "diffusion" and diffusion.takes_guidance
    default = diffusion(image, "squats", frames=LENGTH + 2, samples=2, seed=1)
    assert default.frames.shape == (2, LENGTH + 3, S, S, 3)
    again = diffusion(image, "squats", frames=LENGTH + 2, samples=2, seed=1, guidance=2.5)
    np.testing.assert_array_equal(default.keypoints, again.keypoints)  # 2.5: the default
    plain = diffusion(image, "squats", frames=LENGTH + 2, samples=2, seed=1, guidance=1.0)
    assert not np.allclose(default.keypoints, plain.keypoints)


@pytest.mark.parametrize("guidance", [-1.0, 21.0, True])
def test_guidance_out_of_range_is_refused(diffusion, image, guidance):
    with pytest.raises(KeyvidError, match="guidance must be from 0 to 20"):
        diffusion(image, "squats", frames=2, guidance=guidance)


def test_guidance_for_a_cvae_says_it_does_not_apply(pipe, image):
    assert not pipe.takes_guidance
    with pytest.raises(KeyvidError, match="model's generator is a cvae with the action"):
        pipe(image, "squats", frames=2, guidance=2.0)


def test_stage1_alone_only_animates(models, image):
    stage1 = Pipeline.from_pretrained(models.stage1)
    assert stage1.motion is None and not stage1.uses_action
    with pytest.raises(KeyvidError, match="no motion generator"):
        stage1(image, 0, frames=2)
    assert stage1.animate(image, np.stack([image] * 3)).frames.shape == (1, 3, S, S, 3)


def other_stage1(folder, num_keypoints: int):
    """An untrained stage-1 checkpoint with another keypoint count."""
    config = load_config(Stage1Config, None, [*STAGE1_TINY, f"model.num_keypoints={num_keypoints}"])
    model = KeypointTranslator(config.model)
    networks = {"detector": model.detector, "translator": model.translator}
    return save_checkpoint(folder, kind="stage1", step=0, networks=networks, config=to_dict(config))


def test_a_stage1_with_other_keypoints_is_refused(models, tmp_path):
    wrong = other_stage1(tmp_path / "ckpts", NUM_KEYPOINTS + 2)
    with pytest.raises(KeyvidError, match="6 keypoints but the motion generator was trained on 4"):
        Pipeline.from_pretrained(models.stage2, stage1=wrong)
    with pytest.raises(KeyvidError, match="keypoints"):
        export_pipeline(models.stage2, tmp_path / "pipe", stage1=wrong)
    assert not (tmp_path / "pipe").exists()


def test_animate_follows_the_driving_video(pipe, image, models):
    driving = np.array(PreparedDataset(models.data, "train").frames(0))  # (6, 64, 64, 3)
    result = pipe.animate(image, driving)
    t = len(driving)
    assert result.frames.shape == (1, t, S, S, 3)
    assert result.keypoints.shape == (1, t, NUM_KEYPOINTS, 2)
    np.testing.assert_array_equal(result.frames[0, 0], as_uint8(prepare_image(image, S)))
    # Relative motion: k_t - k_0 is the driving keypoints' displacement.
    detector = pipe.stage1.detector
    track = torch.cat([detector(prepare_image(f, S)) for f in driving]).detach().numpy()
    np.testing.assert_allclose(
        result.keypoints[0] - result.keypoints[0, :1], track - track[:1], atol=1e-5
    )
    # One driving frame: the input alone; none: a clear error.
    single = pipe.animate(image, driving[:1])
    assert single.frames.shape == (1, 1, S, S, 3) and single.masks.shape == (1, 1, S, S)
    np.testing.assert_array_equal(single.frames[0, 0], result.frames[0, 0])
    with pytest.raises(KeyvidError, match="no frames"):
        pipe.animate(image, driving[:0])
    # A driving video that does not move leaves the keypoints where they are.
    still = pipe.animate(image, np.stack([driving[0]] * 4))
    np.testing.assert_allclose(still.keypoints[0], np.repeat(still.keypoints[0, :1], 4, 0))


# -- streams ----------------------------------------------------------------------------------


def assert_same_generation(a: Generation, b: Generation) -> None:
    for field in ("frames", "keypoints", "masks"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert a.action == b.action


def joined(chunks: list[Generation]) -> Generation:
    def cat(field: str) -> np.ndarray:
        return np.concatenate([getattr(c, field) for c in chunks], axis=1)

    return Generation(cat("frames"), cat("keypoints"), cat("masks"), chunks[0].action)


@pytest.mark.parametrize(("chunk", "lengths"), [(2, [2, 2, 2]), (4, [4, 2]), (50, [6])])
def test_a_stream_is_the_call_in_chunks(pipe, image, chunk, lengths):
    whole = pipe(image, "squats", frames=5, samples=3, seed=2)
    stream = pipe.stream(image, "squats", frames=5, samples=3, seed=2, chunk=chunk)
    assert (stream.samples, stream.length, stream.action) == (3, 6, "squats")
    np.testing.assert_array_equal(stream.keypoints, whole.keypoints)  # known before rendering
    chunks = list(stream)
    assert [c.frames.shape[1] for c in chunks] == lengths
    for c in chunks:
        n = c.frames.shape[1]
        assert c.frames.shape == (3, n, S, S, 3) and c.frames.dtype == np.uint8
        assert c.keypoints.shape == (3, n, NUM_KEYPOINTS, 2) and c.masks.shape == (3, n, S, S)
    assert_same_generation(joined(chunks), whole)
    assert_same_generation(joined(list(stream)), whole)  # iterating again renders it again
    assert_same_generation(stream.collect(), whole)


def test_a_stream_checks_everything_before_rendering(pipe, image):
    with pytest.raises(KeyvidError, match="did you mean 'squats'"):
        pipe.stream(image, "squat", frames=3)  # no iteration needed
    with pytest.raises(KeyvidError, match="frames must be a whole number"):
        pipe.stream(image, "squats", frames=0)
    with pytest.raises(KeyvidError, match="chunk must be a whole number"):
        pipe.stream(image, "squats", frames=3, chunk=0)


def test_an_animation_streams_too(pipe, image, models):
    driving = np.array(PreparedDataset(models.data, "train").frames(0))  # (6, 64, 64, 3)
    whole = pipe.animate(image, driving)
    stream = pipe.stream_animate(image, driving, chunk=4)
    assert [c.frames.shape[1] for c in stream] == [4, 2]
    assert_same_generation(joined(list(stream)), whole)
    # Driving frames read at the model's size (read_video's transform) animate alike.
    small = np.stack([square_image(f, S) for f in driving])
    assert_same_generation(pipe.animate(image, small), whole)


def test_edits_render_through_the_stream(pipe, image):
    k0 = pipe.detect(image)
    targets = np.stack([k0, k0 * 0.9, k0 + 0.1])
    result = pipe.edit(image, targets)
    assert result.frames.shape == (1, 4, S, S, 3)
    np.testing.assert_allclose(result.keypoints[0, 1:], targets)


def pattern(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def check_prepared(x: torch.Tensor) -> None:
    assert x.shape == (1, 3, S, S) and x.dtype == torch.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1


def test_an_image_of_the_model_size_is_kept_exactly():
    rgb = pattern(S, S)
    x = prepare_image(rgb, S)
    check_prepared(x)
    np.testing.assert_array_equal(as_uint8(x), rgb)
    np.testing.assert_array_equal(square_image(rgb, S), rgb)


def test_square_image_is_what_the_pipeline_sees():
    for rgb in (pattern(40, 100), pattern(90, 48, seed=1), pattern(10, 12, seed=2)):
        square = square_image(rgb, S)
        assert square.shape == (S, S, 3) and square.dtype == np.uint8
        torch.testing.assert_close(prepare_image(square, S), prepare_image(rgb, S))


def test_rgba_is_composited_over_white():
    rgba = np.zeros((S, S, 4), dtype=np.uint8)
    rgba[:, : S // 2] = (200, 10, 10, 255)  # left half opaque red, right half transparent
    for source in (rgba, Image.fromarray(rgba, mode="RGBA")):
        x = prepare_image(source, S)
        check_prepared(x)
        out = as_uint8(x)
        assert (out[:, : S // 2] == (200, 10, 10)).all() and (out[:, S // 2 :] == 255).all()


def test_greyscale_palette_and_16_bit_become_rgb(tmp_path):
    rgb = pattern(S, S)
    grey = np.array(Image.fromarray(rgb).convert("L"))
    palette = Image.fromarray(rgb).convert("P")
    deep = (grey.astype(np.uint16) * 257).astype(np.uint16)  # 8-bit values in 16 bits
    cases = {
        "L": (Image.fromarray(grey, mode="L"), np.repeat(grey[..., None], 3, 2)),
        "P": (palette, np.array(palette.convert("RGB"))),
        "I;16": (Image.fromarray(deep), np.repeat(grey[..., None], 3, 2)),
        "grey array": (grey, np.repeat(grey[..., None], 3, 2)),
    }
    assert cases["I;16"][0].mode == "I;16"
    for mode, (source, expected) in cases.items():
        x = prepare_image(source, S)
        check_prepared(x)
        np.testing.assert_array_equal(as_uint8(x), expected, err_msg=mode)
    path = tmp_path / "deep.png"
    Image.fromarray(deep).save(path)
    np.testing.assert_array_equal(as_uint8(prepare_image(path, S)), cases["I;16"][1])


def test_a_non_square_image_is_centre_cropped():
    wide, tall = pattern(40, 100), pattern(90, 48, seed=1)
    torch.testing.assert_close(prepare_image(wide, S), prepare_image(wide[:, 30:70], S))
    torch.testing.assert_close(prepare_image(tall, S), prepare_image(tall[21:69], S))
    check_prepared(prepare_image(wide, S))
    check_prepared(prepare_image(pattern(10, 12), S))  # smaller than the model: enlarged


def exif_rotated_jpeg(path, orientation: int = 6):
    """A JPEG stored sideways with an EXIF orientation tag; returns its raw (stored) pixels."""
    stored = np.zeros((48, 80, 3), dtype=np.uint8)
    stored[:, :20] = (255, 0, 0)  # a red band on the stored image's left
    stored[:10] = (0, 0, 255)  # a blue band along its top
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    with Image.open(path) as image:
        return np.array(image.convert("RGB"))


def test_an_exif_rotated_jpeg_is_turned_upright(tmp_path):
    path = tmp_path / "phone.jpg"
    raw = exif_rotated_jpeg(path)
    upright = np.rot90(raw, k=-1)  # orientation 6: turn 90° clockwise to display
    x = prepare_image(path, S)
    check_prepared(x)
    torch.testing.assert_close(x, prepare_image(np.ascontiguousarray(upright), S))
    assert not torch.allclose(x, prepare_image(raw, S))
    torch.testing.assert_close(prepare_image(str(path), S), x)


def test_not_an_image_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    with pytest.raises(KeyvidError, match="not a readable image"):
        prepare_image(path, S)
    with pytest.raises(KeyvidError, match="no such file"):
        prepare_image(tmp_path / "missing.png", S)
