import torch

from keyvid.losses.separation import separation_loss


def test_separation_is_one_for_collapsed_keypoints_and_zero_for_distant_ones():
    assert separation_loss(torch.zeros(2, 4, 2)) == 1.0
    apart = torch.tensor([[[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]])
    assert separation_loss(apart) < 1e-20


def test_separation_gradient_pushes_close_keypoints_apart():
    kp = torch.tensor([[[0.0, 0.0], [0.05, 0.0]]], requires_grad=True)
    separation_loss(kp).backward()
    # Descending the gradient moves the left one left and the right one right.
    assert kp.grad[0, 0, 0] > 0 and kp.grad[0, 1, 0] < 0


def test_separation_of_a_single_keypoint_is_zero():
    assert separation_loss(torch.rand(3, 1, 2)) == 0.0
