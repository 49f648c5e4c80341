"""FVD: I3D loading (state dict and TorchScript), preprocessing, features, the distance."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from keyvid.errors import KeyvidError
from keyvid.metrics.fvd import (
    FVD_MIN_RELIABLE,
    I3DFeatures,
    fvd,
    fvd_warning,
    i3d_features,
    load_i3d,
    preprocess_for_i3d,
)
from keyvid.models.i3d import InceptionI3d

# The tests make TorchScript files with torch.jit.script/save, deprecated in recent torch;
# StyleGAN-V's i3d_torchscript.pt is such a file.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")


class TinyI3D(nn.Module):
    """Stands in for StyleGAN-V's i3d_torchscript.pt: the same call signature."""

    def __init__(self, width: int = 400) -> None:
        super().__init__()
        self.proj = nn.Linear(3, width)

    def forward(
        self,
        x: torch.Tensor,
        rescale: bool = False,
        resize: bool = False,
        return_features: bool = False,
    ) -> torch.Tensor:
        if rescale:
            x = x / 127.5 - 1
        if resize:
            x = x[:, :, :, :1, :1]
        features = self.proj(x.mean(dim=(2, 3, 4)))  # (N, 3, T, H, W) -> (N, width)
        return features if return_features else features.softmax(dim=1)


class NoFlags(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3, 4))


def tats_like_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random InceptionI3d state dict saved as TATS's converted file is: no
    num_batches_tracked, batch-norm scales of one, non-trivial statistics."""
    torch.manual_seed(seed)
    state = {
        k: v.clone()
        for k, v in InceptionI3d().state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    gen = torch.Generator().manual_seed(seed)
    for key, value in state.items():
        if key.endswith("running_var"):
            value.copy_(torch.rand(value.shape, generator=gen) + 0.5)
        elif key.endswith(("running_mean", "bn.bias")):
            value.copy_(torch.randn(value.shape, generator=gen) * 0.1)
    return state


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    return tats_like_state()


@pytest.fixture(scope="module")
def state_file(state, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("i3d") / "i3d_pretrained_400.pt"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def torchscript_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("i3d") / "i3d_torchscript.pt"
    torch.jit.save(torch.jit.script(TinyI3D()), str(path))
    return path


def videos(n: int, t: int = 9, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, t, 3, size, size, generator=torch.Generator().manual_seed(seed))


# --- loading ---------------------------------------------------------------------------


def test_load_state_dict(state_file, state):
    model = load_i3d(state_file)
    assert isinstance(model, I3DFeatures) and model.kind == "state_dict"
    assert isinstance(model.network, InceptionI3d)
    loaded = model.network.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    model.train()
    assert not model.training and not model.network.training


def test_load_wrapped_dataparallel_state_dict(state, tmp_path: Path):
    path = tmp_path / "wrapped.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    model = load_i3d(path)
    assert torch.equal(model.network.logits.conv3d.weight, state["logits.conv3d.weight"])


def test_load_torchscript(torchscript_file):
    model = load_i3d(torchscript_file)
    assert model.kind == "torchscript"
    x = torch.rand(3, 3, 9, 8, 8) * 2 - 1
    reference = torch.jit.load(str(torchscript_file))
    expected = reference(x, rescale=False, resize=False, return_features=True)
    torch.testing.assert_close(model(x), expected, rtol=0, atol=0)
    # The flags matter: the defaults would give softmax probabilities instead.
    assert not torch.allclose(model(x), reference(x))


def test_missing_file(tmp_path: Path):
    path = tmp_path / "nowhere" / "i3d_pretrained_400.pt"
    with pytest.raises(KeyvidError) as info:
        load_i3d(path)
    message = str(info.value)
    assert str(path) in message and "does not exist" in message
    assert "i3d_pretrained_400.pt" in message and "i3d_torchscript.pt" in message
    with pytest.raises(KeyvidError, match="is a directory"):
        load_i3d(tmp_path)


def test_neither_format(tmp_path: Path):
    path = tmp_path / "noise.pt"
    path.write_bytes(bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).tolist()))
    with pytest.raises(KeyvidError) as info:
        load_i3d(path)
    message = str(info.value)
    assert "neither a TorchScript archive nor a torch.save state dict" in message
    assert str(path) in message and "\n" not in message


def test_not_a_state_dict(tmp_path: Path):
    torch.save([torch.zeros(3)], tmp_path / "list.pt")
    with pytest.raises(KeyvidError, match="hold a list, not a state dict"):
        load_i3d(tmp_path / "list.pt")


def test_missing_key(state, tmp_path: Path):
    partial = {k: v for k, v in state.items() if k != "Mixed_4c.b1b.conv3d.weight"}
    torch.save(partial, tmp_path / "partial.pt")
    with pytest.raises(KeyvidError) as info:
        load_i3d(tmp_path / "partial.pt")
    message = str(info.value)
    assert "missing key Mixed_4c.b1b.conv3d.weight" in message and "\n" not in message
    assert "i3d_pretrained_400.pt" in message


def test_wrong_shape(state, tmp_path: Path):
    kinetics600 = dict(state)
    kinetics600["logits.conv3d.weight"] = torch.zeros(600, 1024, 1, 1, 1)
    kinetics600["logits.conv3d.bias"] = torch.zeros(600)
    torch.save(kinetics600, tmp_path / "i3d_pretrained_600.pt")
    with pytest.raises(KeyvidError) as info:
        load_i3d(tmp_path / "i3d_pretrained_600.pt")
    assert (
        "logits.conv3d.weight has shape (600, 1024, 1, 1, 1), expected (400, 1024, 1, 1, 1)"
        in str(info.value)
    )


def test_unexpected_key(state, tmp_path: Path):
    extra = dict(state)
    extra["logits.bn.weight"] = torch.ones(400)
    torch.save(extra, tmp_path / "extra.pt")
    with pytest.raises(KeyvidError, match=r"unexpected key logits\.bn\.weight"):
        load_i3d(tmp_path / "extra.pt")


def test_torchscript_without_the_flags(tmp_path: Path):
    path = tmp_path / "other.pt"
    torch.jit.save(torch.jit.script(NoFlags()), str(path))
    with pytest.raises(KeyvidError, match=r"no argument 'rescale'.*not StyleGAN-V"):
        load_i3d(path)


def test_torchscript_of_the_wrong_width(tmp_path: Path):
    path = tmp_path / "narrow.pt"
    torch.jit.save(torch.jit.script(TinyI3D(width=10)), str(path))
    model = load_i3d(path)
    with pytest.raises(KeyvidError, match=r"returned \(2, 10\).*expected \(2, 400\)"):
        model(torch.zeros(2, 3, 9, 8, 8))


# --- preprocessing ---------------------------------------------------------------------


def test_preprocess_shape_range_and_layout():
    x = videos(2, t=9, size=16)
    out = preprocess_for_i3d(x)
    assert out.shape == (2, 3, 9, 224, 224) and out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1
    assert out.min() < -0.9 and out.max() > 0.9
    # A 224×224 input is not resampled: only the layout and the range change.
    big = videos(1, t=9, size=224, seed=1)
    torch.testing.assert_close(preprocess_for_i3d(big), big.permute(0, 2, 1, 3, 4) * 2 - 1)
    # A constant frame stays constant; uint8 is read as 0..255.
    grey = torch.full((1, 9, 3, 20, 30), 0.25)
    torch.testing.assert_close(preprocess_for_i3d(grey), torch.full((1, 3, 9, 224, 224), -0.5))
    as_bytes = (x * 255).round().to(torch.uint8)
    torch.testing.assert_close(preprocess_for_i3d(as_bytes), preprocess_for_i3d(as_bytes / 255))


def test_preprocess_refuses_short_videos():
    with pytest.raises(KeyvidError, match=r"FVD needs at least 9 frames.*got 8"):
        preprocess_for_i3d(videos(1, t=8))
    with pytest.raises(KeyvidError, match=r"\(N, T, 3, H, W\)"):
        preprocess_for_i3d(torch.rand(9, 3, 16, 16))


# --- features --------------------------------------------------------------------------


def test_i3d_features_batches_and_iterables(torchscript_file):
    model = load_i3d(torchscript_file)
    x = videos(5, t=10, size=12)
    whole = i3d_features(model, x, batch_size=8)
    assert whole.shape == (5, 400) and whole.dtype == torch.float64
    expected = model(preprocess_for_i3d(x)).double()
    torch.testing.assert_close(whole, expected)
    torch.testing.assert_close(i3d_features(model, x, batch_size=2, progress=True), whole)
    torch.testing.assert_close(i3d_features(model, list(x), batch_size=3), whole)
    torch.testing.assert_close(i3d_features(model, (v for v in x), batch_size=2), whole)


def test_i3d_features_errors(torchscript_file):
    model = load_i3d(torchscript_file)
    with pytest.raises(KeyvidError, match="no videos"):
        i3d_features(model, [])
    with pytest.raises(KeyvidError, match="one shape"):
        i3d_features(model, [videos(1, t=9)[0], videos(1, t=10)[0]])
    with pytest.raises(KeyvidError, match="at least 9 frames"):
        i3d_features(model, videos(2, t=4))


def test_i3d_features_with_the_full_network(state_file):
    model = load_i3d(state_file)
    features = i3d_features(model, videos(2, t=9, size=32), batch_size=2)
    assert features.shape == (2, 400) and features.dtype == torch.float64
    assert torch.isfinite(features).all()
    assert not torch.allclose(features[0], features[1])


# --- the distance ----------------------------------------------------------------------


def test_fvd_of_a_set_with_itself_and_a_shifted_set():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(64, 400, generator=gen, dtype=torch.float64)
    assert fvd(real, real) == pytest.approx(0.0, abs=1e-6)
    # Same covariance, means 1 apart in each of 400 dimensions: d² = 400.
    assert fvd(real, real + 1) == pytest.approx(400.0, rel=1e-6)
    other = torch.randn(80, 400, generator=gen, dtype=torch.float64) * 1.5
    assert fvd(real, other) > 0
    with pytest.raises(KeyvidError, match="differ in size"):
        fvd(real, other[:, :100])


def test_fvd_warning():
    assert FVD_MIN_RELIABLE == 256
    message = fvd_warning(100, 2048)
    assert message is not None and "100 real" in message and "2048" in message
    assert fvd_warning(2048, 12) is not None
    assert fvd_warning(256, 256) is None
    assert fvd_warning(2048, 2048) is None
