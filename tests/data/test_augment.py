import math

import numpy as np
import pytest
import torch

from keyvid.coords import to_normalized, to_pixels
from keyvid.data.augment import AugmentConfig, AugmentParams, augment, sample_params


def params(**kw) -> AugmentParams:
    base = dict(
        flip=False, angle=0.0, scale=1.0, center=(0.0, 0.0), filter="none",
        sigma=0.0, brightness=1.0, contrast=1.0, saturation=1.0,
    )  # fmt: skip
    return AugmentParams(**{**base, **kw})


def blob_frame(point_xy, size=(48, 64)) -> torch.Tensor:
    """A (1, 3, H, W) black frame with a small Gaussian blob centred on a normalised point."""
    h, w = size
    px, py = to_pixels(np.array(point_xy), size)
    yy, xx = np.mgrid[0:h, 0:w]
    blob = np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * 1.5**2)).astype(np.float32)
    return torch.from_numpy(blob)[None, None].expand(1, 3, h, w).clone()


def peak(frame: torch.Tensor) -> np.ndarray:
    """Normalised (x, y) of the brightness-weighted centre of the blob."""
    img = frame[0, 0].numpy()
    img = np.where(img > 0.3 * img.max(), img, 0)
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    px = np.array([(img * xx).sum(), (img * yy).sum()]) / img.sum()
    return to_normalized(px, img.shape)


GEOMETRIES = {
    "flip": params(flip=True),
    "rotate": params(angle=math.radians(25)),
    "crop": params(scale=0.7, center=(0.2, -0.15)),
    "all": params(flip=True, angle=math.radians(-12), scale=0.8, center=(-0.1, 0.1)),
}


@pytest.mark.parametrize("name", sorted(GEOMETRIES))
def test_joint_stays_on_its_pixel(name):
    joint = np.array([0.35, -0.3], dtype=np.float32)
    frame = blob_frame(joint)
    out, (moved,) = augment(GEOMETRIES[name], frame, [torch.from_numpy(joint)])
    # Within half a pixel of where the blob landed (the image is 64 px wide: 1 px = 0.031).
    assert np.abs(peak(out) - moved.numpy()).max() < 0.02


def test_flip_mirrors_x_only():
    pts = torch.tensor([[0.5, 0.25], [-0.2, -0.9]])
    _, (out,) = augment(params(flip=True), torch.rand(1, 3, 8, 8), [pts])
    torch.testing.assert_close(out, pts * torch.tensor([-1.0, 1.0]))


def test_points_only_and_identity():
    pts = torch.rand(5, 4, 2) * 2 - 1
    frames, (out,) = augment(params(), None, [pts])
    assert frames is None
    torch.testing.assert_close(out, pts)
    frames = torch.rand(2, 3, 8, 8)
    same, _ = augment(params(), frames, [])
    torch.testing.assert_close(same, frames)


def test_filters_change_pixels_not_points():
    frames = torch.rand(2, 3, 16, 16)
    pts = torch.rand(3, 2)
    for p in (params(filter="blur", sigma=1.0), params(filter="sharpen", sigma=1.0),
              params(brightness=1.2, contrast=0.9, saturation=1.1)):  # fmt: skip
        out, (moved,) = augment(p, frames, [pts])
        assert out.shape == frames.shape and out.min() >= 0 and out.max() <= 1
        assert not torch.allclose(out, frames)
        torch.testing.assert_close(moved, pts)


def test_sampling_is_seeded_and_in_range():
    cfg = AugmentConfig()
    a = [sample_params(cfg, np.random.default_rng(s)) for s in range(200)]
    b = [sample_params(cfg, np.random.default_rng(s)) for s in range(200)]
    assert a == b
    assert 0.3 < np.mean([p.flip for p in a]) < 0.7
    assert all(abs(p.angle) <= math.radians(cfg.rotation_deg) for p in a)
    # The crop window never leaves the image.
    assert all(abs(c) + p.scale <= 1 + 1e-9 for p in a for c in p.center)
    none = sample_params(AugmentConfig.none(), np.random.default_rng(0))
    assert none.is_identity_geometry and none.filter == "none" and none.brightness == 1.0
