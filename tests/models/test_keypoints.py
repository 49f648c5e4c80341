import pytest
import torch

from keyvid.models.keypoints import gaussian_maps, grid_1d, soft_argmax


@pytest.mark.parametrize("mode", ["axis", "2d"])
def test_soft_argmax_recovers_a_peak(mode):
    h, w = 24, 32
    heat = torch.zeros(1, 2, h, w)
    # Sharp peaks; "axis" mode averages logits over a row/column, so they must be large.
    heat[0, 0, 5, 20] = 2000.0
    heat[0, 1, 23, 0] = 2000.0
    kp = soft_argmax(heat, mode)
    expected = torch.tensor([[[grid_1d(w)[20], grid_1d(h)[5]], [-1.0, 1.0]]])
    torch.testing.assert_close(kp, expected, atol=1e-4, rtol=0)


def test_soft_argmax_of_flat_map_is_the_centre_and_has_gradients():
    heat = torch.zeros(2, 3, 8, 8, requires_grad=True)
    kp = soft_argmax(heat)
    torch.testing.assert_close(kp, torch.zeros(2, 3, 2))
    kp[..., 0].sum().backward()
    assert heat.grad.abs().sum() > 0


def test_soft_argmax_rejects_unknown_mode():
    with pytest.raises(ValueError, match="axis"):
        soft_argmax(torch.zeros(1, 1, 4, 4), "3d")


def test_gaussian_maps_peak_at_keypoints():
    kp = torch.tensor([[[-1.0, -1.0], [0.0, 0.0], [1.0, 0.5]]])  # (1, 3, 2)
    maps = gaussian_maps(kp, (9, 17), sigma=0.1)
    assert maps.shape == (1, 3, 9, 17)
    assert maps.max() <= 1.0 and maps.min() >= 0.0
    peaks = [divmod(int(m.argmax()), 17) for m in maps[0]]  # (row, col)
    assert peaks == [(0, 0), (4, 8), (6, 16)]
    torch.testing.assert_close(maps[0, 1, 4, 8], torch.tensor(1.0))
    # Wider sigma, wider blob.
    assert gaussian_maps(kp, 9, 0.3)[0, 1].sum() > gaussian_maps(kp, 9, 0.1)[0, 1].sum()
