import pytest
from safetensors.torch import load_file

from keyvid.cli import main
from keyvid.data.prepare import prepare_synthetic
from keyvid.models.load import load_stage1
from tests.training.test_stage1 import TINY


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    data = prepare_synthetic(root / "synth", train=9, test=9, frames=6, progress=False)
    run = root / "run"
    args = ["train", "stage1", *TINY, f"data.root={data}", "optim.steps=2", "--run", str(run)]
    assert main([*args, "loss.adversarial_weight=1"]) == 0
    return run


def test_export_keeps_only_the_inference_networks(run, tmp_path, capsys):
    out = tmp_path / "shipped"
    assert main(["export", str(run), str(out)]) == 0
    assert "at step 2" in capsys.readouterr().out
    prefixes = {k.split(".", 1)[0] for k in load_file(out / "model.safetensors")}
    assert prefixes == {"detector", "translator"}  # no discriminator, no optimiser state
    assert not (out / "training_state.pt").exists()
    model, ckpt = load_stage1(out)
    assert ckpt.step == 2 and model.config.num_keypoints == 4


def test_export_refuses_to_overwrite_and_names_missing_networks(run, tmp_path, capsys):
    out = tmp_path / "shipped"
    out.mkdir()
    assert main(["export", str(run), str(out)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert main(["export", str(run), str(out), "--overwrite", "--networks", "detector,vae"]) == 2
    assert "has no vae weights" in capsys.readouterr().err
    assert main(["export", str(run), str(out), "--overwrite"]) == 0
