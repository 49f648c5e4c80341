import torch

from keyvid.losses.equivariance import equivariance_loss, random_similarity
from keyvid.models.keypoints import soft_argmax


class BrightestSpot(torch.nn.Module):
    """An ideal detector for one bright blob: exactly equivariant up to resampling."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return soft_argmax(images[:, :1] * 200.0, "2d")


def blobs(n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    centres = torch.rand(n, 2, generator=g) - 0.5
    img = torch.exp(
        -((xx - centres[:, :1, None]) ** 2 + (yy - centres[:, 1:, None]) ** 2) / (2 * 0.08**2)
    )
    return img.unsqueeze(1).expand(n, 3, 32, 32)


def test_an_equivariant_detector_has_a_small_loss_and_a_wrong_one_a_large_loss():
    torch.manual_seed(0)
    images, detector = blobs(6), BrightestSpot()
    kp = detector(images)
    good = equivariance_loss(detector, images, kp)
    bad = equivariance_loss(detector, images, kp.flip(0))  # keypoints of other images
    assert good < 0.05 and bad > 5 * good


def test_random_similarity_is_identity_when_ranges_are_zero():
    theta = random_similarity(3, max_angle_deg=0.0, scale=(1.0, 1.0), shift=0.0)
    torch.testing.assert_close(theta, torch.eye(2, 3).expand(3, 2, 3))


def test_gradients_reach_the_detector():
    from keyvid.models.detector import DetectorConfig, KeypointDetector

    torch.manual_seed(0)
    det = KeypointDetector(DetectorConfig(num_keypoints=3, image_size=16, channels=4, num_down=2))
    images = torch.rand(2, 3, 16, 16)
    equivariance_loss(det, images, det(images)).backward()
    assert det.head.weight.grad.abs().sum() > 0
