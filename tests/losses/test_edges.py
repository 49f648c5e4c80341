import torch

from keyvid.losses.edges import gradient_l1, image_gradients


def bar(width: int, x0: int = 10) -> torch.Tensor:
    """(1, 3, 32, 32) black image with a white vertical bar of ``width`` pixels at column x0."""
    img = torch.zeros(1, 3, 32, 32)
    img[..., 4:28, x0 : x0 + width] = 1.0
    return img


def test_image_gradients_shapes_and_values():
    dx, dy = image_gradients(bar(2))
    assert dx.shape == (1, 3, 32, 31) and dy.shape == (1, 3, 31, 32)
    assert dx[0, 0, 10, 9] == 1.0 and dx[0, 0, 10, 11] == -1.0 and dx[0, 0, 10, 10] == 0.0


def test_gradient_l1_ignores_brightness_and_sees_shapes():
    img = torch.rand(2, 3, 16, 16)
    assert gradient_l1(img, img) == 0.0
    assert gradient_l1(img + 0.2, img) < 1e-6  # a uniform shift has the same derivatives
    assert gradient_l1(img.flip(-1), img) > 0.01


def test_a_thin_limb_costs_as_much_as_a_thick_one():
    # Moving a bar by 6 pixels: a pixel L1 grows with its width, the gradient L1 does not.
    thin, thick = (bar(2), bar(2, x0=16)), (bar(5), bar(5, x0=16))
    pixel_ratio = (thick[0] - thick[1]).abs().mean() / (thin[0] - thin[1]).abs().mean()
    edge_ratio = gradient_l1(*thick) / gradient_l1(*thin)
    assert pixel_ratio == 2.5
    assert 1.0 < edge_ratio < 1.2  # only the bar's short ends grow with its width
