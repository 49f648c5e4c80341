"""Weight files: read with torch.load(weights_only=True), checked key by key, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from keyvid.errors import KeyvidError
from keyvid.io.weights import check_state_dict, read_state_dict_file

WHAT = "Test weights"
HINT = "get test.pth from somewhere"
EXPECTED = {"conv.weight": (4, 3, 3, 3), "conv.bias": (4,)}


def state(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {key: torch.randn(shape, generator=gen) for key, shape in EXPECTED.items()}


def read(path: Path) -> dict[str, object]:
    return dict(read_state_dict_file(path, what=WHAT, hint=HINT))


def check(values: dict[str, object], **kwargs: object) -> dict[str, torch.Tensor]:
    return check_state_dict(values, EXPECTED, path=Path("w.pth"), what=WHAT, hint=HINT, **kwargs)


def assert_one_line(message: str, *parts: str) -> None:
    assert "\n" not in message
    assert message.startswith(WHAT) and message.endswith(f"; {HINT}")
    for part in parts:
        assert part in message


def test_round_trip(tmp_path: Path) -> None:
    saved = state()
    torch.save(saved, tmp_path / "w.pth")
    loaded = read(tmp_path / "w.pth")
    assert loaded.keys() == saved.keys()
    tensors = check(loaded)
    for key, value in saved.items():
        assert torch.equal(tensors[key], value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "w.pth"
    with pytest.raises(KeyvidError) as info:
        read(path)
    assert_one_line(str(info.value), str(path), "does not exist")
    with pytest.raises(KeyvidError, match="is a directory, not a file"):
        read(tmp_path)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.pth"
    path.write_bytes(bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).tolist()))
    with pytest.raises(KeyvidError) as info:
        read(path)
    assert_one_line(str(info.value), str(path), "is not a torch.save state dict file")
    with pytest.raises(KeyvidError, match="is not a weights file"):
        read_state_dict_file(path, what=WHAT, hint=HINT, unreadable="is not a weights file")


def test_not_a_mapping(tmp_path: Path) -> None:
    torch.save([torch.zeros(3)], tmp_path / "list.pth")
    with pytest.raises(KeyvidError) as info:
        read(tmp_path / "list.pth")
    assert_one_line(str(info.value), "hold a list, not a state dict")


def test_wrapper_unwrapped(tmp_path: Path) -> None:
    saved = state()
    torch.save({"state_dict": saved, "epoch": 3}, tmp_path / "wrapped.pth")
    assert read(tmp_path / "wrapped.pth").keys() == saved.keys()


def test_module_prefix_stripped(tmp_path: Path) -> None:
    saved = state()
    torch.save({f"module.{k}": v for k, v in saved.items()}, tmp_path / "dp.pth")
    assert read(tmp_path / "dp.pth").keys() == saved.keys()
    # Only a prefix on every key is one nn.DataParallel put there.
    mixed = {"module.conv.weight": saved["conv.weight"], "conv.bias": saved["conv.bias"]}
    torch.save(mixed, tmp_path / "mixed.pth")
    assert read(tmp_path / "mixed.pth").keys() == mixed.keys()


def test_missing_key() -> None:
    values: dict[str, object] = dict(state())
    del values["conv.bias"]
    with pytest.raises(KeyvidError) as info:
        check(values, model="the test net")
    assert_one_line(
        str(info.value), "w.pth", "missing key conv.bias (1 keys found)", "the test net"
    )


def test_not_a_tensor() -> None:
    values: dict[str, object] = {**state(), "conv.bias": [0.0] * 4}
    with pytest.raises(KeyvidError) as info:
        check(values)
    assert_one_line(str(info.value), "conv.bias is a list, not a tensor")


def test_wrong_shape() -> None:
    values: dict[str, object] = {**state(), "conv.weight": torch.zeros(4, 1, 3, 3)}
    with pytest.raises(KeyvidError) as info:
        check(values)
    assert_one_line(str(info.value), "conv.weight has shape (4, 1, 3, 3), expected (4, 3, 3, 3)")


def test_unexpected_key() -> None:
    values: dict[str, object] = {**state(), "bn.weight": torch.ones(4), "bn.bias": torch.ones(4)}
    with pytest.raises(KeyvidError) as info:
        check(values)
    assert_one_line(str(info.value), "unexpected key bn.bias (2 in all)")


def test_optional_keys() -> None:
    values: dict[str, object] = {**state(), "bn.num_batches_tracked": torch.tensor(7)}
    tensors = check(values, optional=frozenset({"bn.num_batches_tracked"}))
    assert tensors.keys() == EXPECTED.keys()  # present optional keys are not returned
    check(dict(state()), optional=frozenset({"bn.num_batches_tracked"}))  # absent is fine
