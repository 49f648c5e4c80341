"""Data-parallel training through torchrun: real processes, gloo on this CPU."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from keyvid.config import load_config
from keyvid.data.prepare import prepare_synthetic
from keyvid.distributed import World, local_batch_size
from keyvid.errors import KeyvidError
from keyvid.models.stage1 import KeypointTranslator
from keyvid.training.config import Stage1Config
from keyvid.training.harness.parallel import AllReduceBatchNorm
from tests.training.test_stage1 import TINY

# D_im on and the separation term on: every part of the stage-1 step but the
# equivariance term, whose random warps each rank draws for its own half.
STEP = [*TINY, "optim.threads=1", "loss.adversarial_weight=1.0", "loss.separation_weight=1.0"]


def keyvid(*args: str, processes: int = 1) -> subprocess.CompletedProcess:
    """``keyvid ARGS`` in a fresh process, or under torchrun in ``processes`` processes."""
    launcher = [sys.executable, "-m", "keyvid"]
    if processes > 1:
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        launcher = [*torchrun, f"--nproc-per-node={processes}", "-m", "keyvid"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([*launcher, *args], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return prepare_synthetic(
        tmp_path_factory.mktemp("ddp") / "synth", train=9, test=0, frames=6, progress=False
    )


@pytest.fixture(scope="module")
def two_process_run(data, tmp_path_factory):
    """3 steps of stage 1 in 2 processes."""
    run = tmp_path_factory.mktemp("ddp") / "two"
    args = ["train", "stage1", *STEP, f"data.root={data}", "optim.steps=3"]
    proc = keyvid(*args, "--run-dir", str(run), processes=2)
    assert "2 processes, backend gloo" in proc.stderr
    return run


def test_two_processes_train_the_same_weights_as_one(data, two_process_run, tmp_path):
    args = ["train", "stage1", *STEP, f"data.root={data}", "optim.steps=3"]
    keyvid(*args, "--run-dir", str(tmp_path / "one"))
    one = load_file(tmp_path / "one/checkpoints/step_00000003/model.safetensors")
    both = load_file(two_process_run / "checkpoints/step_00000003/model.safetensors")
    assert one.keys() == both.keys()
    # detector.head.bias shifts every logit of a heatmap alike, which the softmax
    # ignores: its exact gradient is 0, and Adam turns rounding noise there into
    # ±lr steps. Every other tensor, batch-norm statistics included, must agree.
    for name in one:
        if name != "detector.head.bias":
            torch.testing.assert_close(both[name], one[name], rtol=1e-5, atol=1e-5, msg=name)
    # Rank 0 alone wrote the run: one metrics line per step, one checkpoint.
    lines = (two_process_run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert [p.name for p in (two_process_run / "checkpoints").iterdir()] == ["step_00000003"]


def assert_identical(resumed: object, uninterrupted: object, name: str = "") -> None:
    """Equal tensors (torch.equal) and values, through dicts, lists and tuples."""
    if isinstance(uninterrupted, dict):
        assert resumed.keys() == uninterrupted.keys(), name
        for key in uninterrupted:
            assert_identical(resumed[key], uninterrupted[key], f"{name}.{key}")
    elif isinstance(uninterrupted, list | tuple):
        assert len(resumed) == len(uninterrupted), name
        for i, (a, b) in enumerate(zip(resumed, uninterrupted, strict=True)):
            assert_identical(a, b, f"{name}[{i}]")
    elif isinstance(uninterrupted, torch.Tensor):
        assert resumed.dtype == uninterrupted.dtype and torch.equal(resumed, uninterrupted), name
    else:
        assert resumed == uninterrupted, name


def resumed_and_uninterrupted(
    args: list[str], tmp_path, *, steps: int, stop: int
) -> tuple[Path, Path]:
    """The last checkpoints of a 2-process run stopped at step ``stop`` and resumed to
    ``steps``, and of one that ran straight through."""
    args = [*args, f"optim.steps={steps}"]
    keyvid(*args, "--run-dir", str(tmp_path / "straight"), processes=2)
    keyvid(*args, "--run-dir", str(tmp_path / "r"), "--max-steps", str(stop), processes=2)
    keyvid("train", args[1], "--resume", str(tmp_path / "r"), processes=2)
    last = f"checkpoints/step_{steps:08d}"
    return tmp_path / "r" / last, tmp_path / "straight" / last


def assert_same_checkpoint(resumed: Path, uninterrupted: Path) -> dict:
    """Weights, optimiser moments, every rank's RNG state: all equal. The training state."""
    assert_identical(
        load_file(resumed / "model.safetensors"), load_file(uninterrupted / "model.safetensors")
    )
    state = torch.load(resumed / "training_state.pt", weights_only=True)
    assert_identical(state, torch.load(uninterrupted / "training_state.pt", weights_only=True))
    return state


def test_a_distributed_run_resumed_mid_way_ends_bit_identical(data, tmp_path):
    # The equivariance term on: each rank draws its own random warps, so each rank's
    # RNG state must continue where it was.
    args = ["train", "stage1", *STEP, f"data.root={data}", "loss.equivariance_weight=1.0"]
    resumed, straight = resumed_and_uninterrupted(args, tmp_path, steps=4, stop=2)
    state = assert_same_checkpoint(resumed, straight)
    assert len(state["torch_rng_ranks"]) == 2  # every rank's noise continues where it was


def test_uneven_batch_is_refused_before_any_work(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(KeyvidError, match="batch_size=16 does not divide among 3 processes"):
        local_batch_size(16, World.from_environment())
    assert local_batch_size(16, World(rank=1, size=4)) == 4


def test_batch_norm_swap_keeps_the_parameters_the_optimiser_holds():
    config = load_config(Stage1Config, None, TINY)
    model = KeypointTranslator(config.model)
    before = {id(p) for p in model.parameters()}
    buffers = {id(b) for b in model.buffers()}
    x = torch.rand(2, 3, 32, 32)
    reference = model.eval()(x, x).translation.image
    AllReduceBatchNorm.convert(model)
    assert any(isinstance(m, AllReduceBatchNorm) for m in model.modules())
    assert {id(p) for p in model.parameters()} == before
    assert {id(b) for b in model.buffers()} == buffers
    # Outside a process group it is plain batch norm.
    torch.testing.assert_close(model.eval()(x, x).translation.image, reference)


def test_classifier_in_two_processes_equals_one(tmp_path):
    # 3-D batch norm over the global batch, no dropout: the same weights as one process.
    from tests.training.test_classifier import TINY as CLASSIFIER
    from tests.training.test_classifier import write_motion_dataset

    data = write_motion_dataset(tmp_path / "motions")
    args = ["train", "classifier", *CLASSIFIER, f"data.root={data}", "optim.steps=3"]
    keyvid(*args, "optim.threads=1", "--run-dir", str(tmp_path / "one"))
    keyvid(*args, "optim.threads=1", "--run-dir", str(tmp_path / "two"), processes=2)
    last = "checkpoints/step_00000003/model.safetensors"
    one, two = load_file(tmp_path / "one" / last), load_file(tmp_path / "two" / last)
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=1e-5, atol=1e-5, msg=name)


def test_stage2_in_two_processes_resumed_mid_way_ends_bit_identical(data, tmp_path):
    # Each rank draws its own z (the VAE's reparameterisation) and keypoint augmentations.
    from keyvid.pipeline.pseudolabels import extract_keypoints
    from tests.pipeline.tiny import STAGE2_TINY, tiny_detector

    extract_keypoints(tiny_detector(), data, name="stage1", source={}, progress=False)
    args = ["train", "stage2", *STAGE2_TINY, "optim.threads=1", f"data.root={data}"]
    resumed, straight = resumed_and_uninterrupted(args, tmp_path, steps=4, stop=2)
    assert len((tmp_path / "straight/metrics.jsonl").read_text().splitlines()) == 4
    assert_same_checkpoint(resumed, straight)


def test_pseudo_labels_in_two_processes_equal_one(data, two_process_run):
    import numpy as np

    args = ["extract-keypoints", "--checkpoint", str(two_process_run), "--data", str(data)]
    keyvid(*args, "--name", "one", "--chunk-frames", "10")
    keyvid(*args, "--name", "two", "--chunk-frames", "10", processes=2)  # 6 chunks, 3 each
    folder = data / "train" / "keypoints"
    np.testing.assert_array_equal(np.load(folder / "two.npy"), np.load(folder / "one.npy"))
    assert not list(folder.glob(".*"))  # no partial files or chunk markers left
