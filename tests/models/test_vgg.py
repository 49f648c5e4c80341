"""VGG-19 trunk: torchvision key names, layer selection and weight loading errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from keyvid.errors import KeyvidError
from keyvid.models.vgg import (
    DEFAULT_LAYERS,
    EXPECTED_SHAPES,
    VGG19Features,
    conv_flops,
    load_vgg19_weights,
)

# torchvision's vgg19().features: convs here, a ReLU after each, pools at 4, 9, 18, 27, 36.
CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


def fake_torchvision_state(seed: int = 1) -> dict[str, torch.Tensor]:
    """Random values under torchvision's full vgg19 key set, classifier included."""
    state = {k: v.clone() for k, v in VGG19Features(seed=seed).state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(8, 4)  # shapes here do not matter: ignored
    state["classifier.0.bias"] = torch.zeros(8)
    return state


@pytest.fixture(scope="module")
def model() -> VGG19Features:
    return VGG19Features()


def test_parameter_names_match_torchvision(model):
    names = [n for n, _ in model.named_parameters()]
    expected = [f"features.{i}.{p}" for i in CONV_INDICES for p in ("weight", "bias")]
    assert names == expected
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == EXPECTED_SHAPES
    assert not any(p.requires_grad for p in model.parameters())
    assert not model.training
    model.train()
    assert not model.training  # stays a fixed feature extractor


def test_default_layers_shapes_and_order(model):
    x = torch.rand(2, 3, 32, 32)
    feats = model(x)
    assert [tuple(f.shape) for f in feats] == [
        (2, 64, 32, 32),
        (2, 128, 16, 16),
        (2, 256, 8, 8),
        (2, 512, 4, 4),
        (2, 512, 2, 2),
    ]
    assert all((f >= 0).all() for f in feats)  # taken after the ReLUs
    a, b = model(x, ["relu2_2", "relu1_2"])
    assert torch.equal(a, feats[1]) and torch.equal(b, feats[0])
    with pytest.raises(ValueError, match="unknown VGG-19 layer"):
        model(x, ["relu6_1"])


def test_default_init_is_seeded():
    a, b = VGG19Features(seed=0), VGG19Features(seed=0)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in EXPECTED_SHAPES)
    c = VGG19Features(seed=3)
    assert not torch.equal(a.features[0].weight, c.features[0].weight)


def test_conv_flops_known_value():
    # VGG-19 convolutions at 224×224: 19.5 GMAC (the classic figure without the classifier).
    assert conv_flops(224) / 2 == pytest.approx(19.5e9, rel=0.01)
    assert conv_flops(128, batch=2) == pytest.approx(4 * 2 * conv_flops(64))
    assert len(DEFAULT_LAYERS) == 5


def test_load_torchvision_pth_changes_outputs(tmp_path: Path):
    state = fake_torchvision_state()
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    model = VGG19Features()
    x = torch.rand(1, 3, 32, 32)
    before = model(x, ["relu2_2"])[0]
    assert load_vgg19_weights(model, path) is model
    after = model(x, ["relu2_2"])[0]
    assert not torch.allclose(before, after)
    assert torch.equal(model.features[34].weight, state["features.34.weight"])
    assert not any(p.requires_grad for p in model.parameters()) and not model.training


def test_load_features_only_state_dict(tmp_path: Path):
    state = {k.removeprefix("features."): v for k, v in VGG19Features(seed=2).state_dict().items()}
    torch.save(state, tmp_path / "features.pth")
    model = load_vgg19_weights(VGG19Features(), tmp_path / "features.pth")
    assert torch.equal(model.features[0].weight, state["0.weight"])


def test_load_safetensors(tmp_path: Path):
    state = fake_torchvision_state(seed=4)
    path = tmp_path / "vgg19.safetensors"
    save_file(state, str(path))
    model = load_vgg19_weights(VGG19Features(), path)
    assert torch.equal(model.features[10].weight, state["features.10.weight"])


def test_missing_key(tmp_path: Path):
    state = fake_torchvision_state()
    del state["features.10.weight"]
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with pytest.raises(KeyvidError) as info:
        load_vgg19_weights(VGG19Features(), path)
    message = str(info.value)
    assert "missing key features.10.weight" in message
    assert str(path) in message and "KEYVID_VGG19_WEIGHTS" in message
    assert "\n" not in message


def test_wrong_shape(tmp_path: Path):
    state = fake_torchvision_state()
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    path = tmp_path / "gray.pth"
    torch.save(state, path)
    with pytest.raises(KeyvidError) as info:
        load_vgg19_weights(VGG19Features(), path)
    assert "features.0.weight has shape (64, 1, 3, 3), expected (64, 3, 3, 3)" in str(info.value)
    assert str(path) in str(info.value)


def test_batchnorm_checkpoint_rejected(tmp_path: Path):
    state = fake_torchvision_state()
    state["features.1.running_mean"] = torch.zeros(64)
    torch.save(state, tmp_path / "bn.pth")
    with pytest.raises(KeyvidError, match=r"unexpected key features\.1\.running_mean"):
        load_vgg19_weights(VGG19Features(), tmp_path / "bn.pth")


def test_nonexistent_path(tmp_path: Path):
    path = tmp_path / "nowhere" / "vgg19.pth"
    with pytest.raises(KeyvidError) as info:
        load_vgg19_weights(VGG19Features(), path)
    assert str(path) in str(info.value) and "does not exist" in str(info.value)
    assert "vgg19-dcbb9e9d.pth" in str(info.value)


@pytest.mark.parametrize("name", ["notes.pth", "notes.safetensors"])
def test_not_a_checkpoint(tmp_path: Path, name: str):
    path = tmp_path / name
    path.write_text("these are not weights\n")
    with pytest.raises(KeyvidError) as info:
        load_vgg19_weights(VGG19Features(), path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_not_a_state_dict(tmp_path: Path):
    torch.save([torch.zeros(3)], tmp_path / "list.pth")
    with pytest.raises(KeyvidError, match="not a state dict"):
        load_vgg19_weights(VGG19Features(), tmp_path / "list.pth")
