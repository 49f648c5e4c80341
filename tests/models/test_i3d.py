"""Inception-3D: the key names of i3d_pretrained_400.pt, TF "SAME" padding, shapes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from keyvid.models.i3d import (
    ENDPOINTS,
    I3DConfig,
    InceptionI3d,
    MaxPool3dSamePadding,
    Unit3D,
    same_padding,
)

# Keys of i3d_pretrained_400.pt, as songweige/TATS tats/fvd/convert_tf_pretrained.py names
# the TF-Hub variables (conv_3d/w -> conv3d.weight, batch_norm/beta -> bn.bias, an added
# bn.weight of ones, moving_mean/variance -> bn.running_mean/var, Logits -> logits),
# with the shapes of tats/fvd/pytorch_i3d.py.
REFERENCE_SHAPES: dict[str, tuple[int, ...]] = {
    "Conv3d_1a_7x7.conv3d.weight": (64, 3, 7, 7, 7),
    "Conv3d_1a_7x7.bn.weight": (64,),
    "Conv3d_1a_7x7.bn.bias": (64,),
    "Conv3d_1a_7x7.bn.running_mean": (64,),
    "Conv3d_1a_7x7.bn.running_var": (64,),
    "Conv3d_2b_1x1.conv3d.weight": (64, 64, 1, 1, 1),
    "Conv3d_2c_3x3.conv3d.weight": (192, 64, 3, 3, 3),
    "Mixed_3b.b0.conv3d.weight": (64, 192, 1, 1, 1),
    "Mixed_3b.b1a.conv3d.weight": (96, 192, 1, 1, 1),
    "Mixed_3b.b1b.conv3d.weight": (128, 96, 3, 3, 3),
    "Mixed_3b.b2b.bn.running_var": (32,),
    "Mixed_3b.b3b.conv3d.weight": (32, 192, 1, 1, 1),
    "Mixed_4b.b0.conv3d.weight": (192, 480, 1, 1, 1),
    "Mixed_4f.b2b.conv3d.weight": (128, 32, 3, 3, 3),
    "Mixed_5b.b2a.conv3d.weight": (32, 832, 1, 1, 1),
    "Mixed_5c.b0.conv3d.weight": (384, 832, 1, 1, 1),
    "Mixed_5c.b3b.bn.running_mean": (128,),
    "logits.conv3d.weight": (400, 1024, 1, 1, 1),
    "logits.conv3d.bias": (400,),
}


@pytest.fixture(scope="module")
def model() -> InceptionI3d:
    torch.manual_seed(0)
    return InceptionI3d(I3DConfig()).eval()


def test_state_dict_matches_the_reference_format(model):
    state = model.state_dict()
    for key, shape in REFERENCE_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    # 57 conv + batch-norm units (3 in the stem, 6 in each of 9 Inception blocks) with 5
    # tensors each, and the logits' weight and bias: the 287 tensors of the converted file.
    required = [k for k in state if not k.endswith("num_batches_tracked")]
    assert len(required) == 57 * 5 + 2
    assert len(state) - len(required) == 57
    assert not any(k.startswith("logits.bn") or ".b3a." in k for k in state)  # no such params
    prefixes = {k.split(".")[0] for k in state}
    assert prefixes == {n for n in ENDPOINTS if not n.startswith("MaxPool")} | {"logits"}


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [1, 2, 3, 7])
def test_same_padding_is_tensorflows(kernel, stride):
    for size in range(1, 20):
        out = math.ceil(size / stride)  # TF "SAME": ⌈size/stride⌉ outputs
        total = max((out - 1) * stride + kernel - size, 0)
        assert same_padding(size, kernel, stride) == (total // 2, total - total // 2)
    assert same_padding(224, 7, 2) == (2, 3)  # the odd pixel goes after, as in TF


def test_conv_and_pool_output_sizes():
    unit = Unit3D(3, 4, (7, 7, 7), (2, 2, 2))
    assert unit(torch.rand(1, 3, 9, 15, 16)).shape == (1, 4, 5, 8, 8)
    pool = MaxPool3dSamePadding((3, 3, 3), (2, 2, 2))
    x = torch.rand(2, 3, 9, 15, 16)  # ≥ 0, as the ReLU outputs the pools see
    # Zero padding equals TF's (−inf) padding on non-negative inputs.
    reference = F.max_pool3d(F.pad(x, (0, 1, 1, 1, 1, 1), value=-math.inf), 3, 2)
    assert torch.equal(pool(x), reference)
    assert pool(x).shape == (2, 3, 5, 8, 8)


def test_output_shape_and_batch_independence_at_224(model):
    shapes: list[tuple[int, ...]] = []

    def record(_module, _inputs, out) -> None:
        shapes.append(tuple(out.shape))

    hook = model.Mixed_5c.register_forward_hook(record)
    try:
        gen = torch.Generator().manual_seed(1)
        x = torch.rand(2, 3, 9, 224, 224, generator=gen) * 2 - 1
        with torch.no_grad():
            out = model(x)
            single = model(x[1:])
    finally:
        hook.remove()
    assert out.shape == (2, 400) and out.dtype == torch.float32
    assert shapes[0] == (2, 1024, 2, 7, 7)  # ⌈9/8⌉ steps, 224/32 pixels
    assert torch.isfinite(out).all()
    # Eval mode: a video's logits do not depend on its batch, and repeat exactly.
    torch.testing.assert_close(single[0], out[1], rtol=1e-4, atol=1e-5)


def test_smallest_accepted_frame_size(model):
    x = torch.rand(1, 3, 10, 193, 200, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        assert model(x).shape == (1, 400)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((1, 3, 8, 224, 224), "at least 9 frames"),
        ((1, 3, 9, 192, 224), "193 to 224 pixels"),
        ((1, 3, 9, 224, 256), "193 to 224 pixels"),
        ((1, 1, 9, 224, 224), r"\(B, 3, T, H, W\)"),
        ((3, 9, 224, 224), r"\(B, 3, T, H, W\)"),
    ],
)
def test_refuses_inputs_the_pooling_cannot_take(model, shape, message):
    with pytest.raises(ValueError, match=message):
        model(torch.zeros(shape))
