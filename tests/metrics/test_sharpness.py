"""Actor-region sharpness: flat is 0, blur lowers it, the region decides what counts."""

import pytest
import torch
import torch.nn.functional as F

from keyvid.metrics.sharpness import actor_region, frame_sharpness, gradient_energy

SIZE = 32


def vertical_edge(column: int) -> torch.Tensor:
    """(1, 3, SIZE, SIZE): dark left of ``column``, bright from it on."""
    frame = torch.zeros(1, 3, SIZE, SIZE)
    frame[..., column:] = 1.0
    return frame


def blurred(frames: torch.Tensor) -> torch.Tensor:
    """A 5-tap box blur along x (replicated borders): the same edge, spread over 5 px."""
    padded = F.pad(frames, (2, 2, 0, 0), mode="replicate")  # (N, 3, H, W+4)
    return F.avg_pool2d(padded, (1, 5), stride=1)  # (N, 3, H, W)


def everywhere(n: int = 1) -> torch.Tensor:
    return torch.ones(n, 1, SIZE, SIZE)


def test_a_flat_frame_has_no_energy_and_a_sharp_edge_more_than_its_blur():
    flat = torch.full((2, 3, SIZE, SIZE), 0.4)
    assert torch.equal(gradient_energy(flat, everywhere(2)), torch.zeros(2))
    edge = vertical_edge(SIZE // 2)
    sharp, soft = gradient_energy(edge, everywhere()), gradient_energy(blurred(edge), everywhere())
    assert soft > 0
    assert sharp > 3 * soft  # one step of 1 against five steps of 0.2: 1 vs 5 × 0.04


def test_the_formula_on_a_known_edge():
    # One column of unit steps in every channel, over (SIZE-1)² difference positions.
    energy = gradient_energy(vertical_edge(SIZE // 2), everywhere())
    assert float(energy) == pytest.approx((SIZE - 1) / (SIZE - 1) ** 2)


def test_an_edge_outside_the_region_does_not_count():
    keypoints = torch.tensor([[[-0.6, 0.0]]])  # (1, K=1, 2): left part of the frame
    region = actor_region(keypoints, SIZE, radius=0.1)  # (1, 1, H, W)
    inside, outside = vertical_edge(SIZE // 5), vertical_edge(SIZE - 4)  # x ≈ -0.6, ≈ 0.8
    assert gradient_energy(outside, region) < 1e-6 * gradient_energy(inside, region)
    # Over the whole frame both edges weigh the same.
    assert gradient_energy(outside, everywhere()) == gradient_energy(inside, everywhere())


def test_the_region_is_a_union_of_discs_peaking_at_the_keypoints():
    keypoints = torch.tensor([[[-0.5, -0.5], [0.5, 0.5]]])  # (1, 2, 2)
    region = actor_region(keypoints, (SIZE, SIZE + 1))
    assert region.shape == (1, 1, SIZE, SIZE + 1)
    assert float(region.max()) <= 1.0 and float(region.min()) >= 0.0
    wider = actor_region(keypoints, (SIZE, SIZE + 1), radius=0.3)
    assert bool((wider >= region).all()) and float(wider.sum()) > float(region.sum())
    corner, centre = region[0, 0, 0, -1], region[0, 0, SIZE // 2, SIZE // 2]
    assert corner < 1e-3 and centre < region.max()  # far from both keypoints, between them


def test_frame_sharpness_measures_each_frame_in_its_own_region():
    torch.manual_seed(0)
    left = vertical_edge(SIZE // 5)  # the edge near x = -0.6
    video = torch.cat([left, blurred(left), torch.rand(1, 3, SIZE, SIZE)])[None]  # (1, 3, ...)
    near = torch.tensor([[-0.6, 0.0]]).expand(3, 1, 2)  # (T=3, K=1, 2)
    far = near.clone()
    far[0, 0, 0] = 0.8  # frame 0's region moved away from its edge
    energies = frame_sharpness(video, near[None], radius=0.1)  # (1, 3)
    assert energies.shape == (1, 3) and energies[0, 0] > energies[0, 1] > 0
    moved = frame_sharpness(video, far[None], radius=0.1)
    assert moved[0, 0] < 1e-6 and torch.equal(moved[0, 1:], energies[0, 1:])
