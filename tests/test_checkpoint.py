import pytest
import torch
from torch import nn

from keyvid.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from keyvid.errors import KeyvidError


def nets():
    torch.manual_seed(0)
    return {"a": nn.Linear(3, 2), "b": nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))}


def test_round_trip_and_keep_last(tmp_path):
    networks = nets()
    opt = torch.optim.Adam(networks["a"].parameters())
    networks["a"](torch.rand(4, 3)).sum().backward()
    opt.step()
    for step in (10, 20, 30, 40):
        path = save_checkpoint(
            tmp_path, kind="test", step=step, networks=networks, config={"k": step},
            training_state={"opt": opt.state_dict(), "rng": torch.get_rng_state()}, keep=2,
        )  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step_00000030", "step_00000040"]
    assert latest_checkpoint(tmp_path) == path
    ckpt = load_checkpoint(path, kind="test")
    assert ckpt.step == 40 and ckpt.config == {"k": 40}
    restored = nets()["a"]
    restored.load_state_dict(ckpt.state_dict("a"))
    torch.testing.assert_close(restored.weight, networks["a"].weight)
    assert "running_mean" in "".join(ckpt.state_dict("b"))  # buffers travel too
    state = ckpt.training_state()
    assert state["opt"]["state"][0]["step"] == 1


def test_unfinished_checkpoints_are_ignored(tmp_path):
    save_checkpoint(tmp_path, kind="t", step=1, networks=nets(), config={})
    (tmp_path / ".step_00000002.tmp-123").mkdir()  # a crash mid-write
    (tmp_path / "step_00000003").mkdir()  # no meta.json: never completed
    assert latest_checkpoint(tmp_path).name == "step_00000001"


def test_resolve_and_errors(tmp_path):
    run = tmp_path / "run"
    path = save_checkpoint(run / "checkpoints", kind="t", step=5, networks=nets(), config={})
    assert resolve_checkpoint(run) == path  # a run folder means its latest checkpoint
    with pytest.raises(KeyvidError, match="no checkpoint at"):
        resolve_checkpoint(tmp_path / "missing")
    with pytest.raises(KeyvidError, match="is a 't' checkpoint, expected 'stage1'"):
        load_checkpoint(path, kind="stage1")
    (path / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(KeyvidError, match="not a readable keyvid checkpoint"):
        load_checkpoint(path)


def test_shipped_model_without_training_state(tmp_path):
    path = save_checkpoint(tmp_path, kind="t", step=1, networks=nets(), config={})
    with pytest.raises(KeyvidError, match="no training state"):
        load_checkpoint(path).training_state()


def test_export_keeps_only_the_chosen_networks(tmp_path):
    from keyvid.checkpoint import export_checkpoint

    src = save_checkpoint(
        tmp_path / "run", kind="t", step=7, networks=nets(), config={"x": 1}, training_state={}
    )
    out = export_checkpoint(src, tmp_path / "shipped", networks=("a",))
    ckpt = load_checkpoint(out, kind="t")
    assert ckpt.step == 7 and ckpt.config == {"x": 1}
    assert {k.split(".")[0] for k in ckpt.weights} == {"a"}
    assert not (out / "training_state.pt").exists()
