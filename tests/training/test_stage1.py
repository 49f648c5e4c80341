import json

import pytest
import torch
from safetensors.torch import load_file

from keyvid.config import load_config
from keyvid.data.prepare import prepare_synthetic
from keyvid.errors import KeyvidError
from keyvid.training.config import Stage1Config
from keyvid.training.stage1 import train_stage1

TINY = [
    "model.num_keypoints=4",
    "model.image_size=32",
    "model.detector.channels=4",
    "model.detector.num_down=2",
    "model.translator.channels=4",
    "model.translator.max_channels=8",
    "model.translator.feature_size=8",
    "model.translator.sigma=0.15",
    "model.discriminator.channels=4",
    "model.discriminator.num_layers=3",
    "loss.reconstruction=pixel",
    "optim.batch_size=4",
    "optim.lr=1e-3",
    "optim.device=cpu",
    "data.num_workers=0",
    "log.log_every=1",
    "log.eval_every=0",
    "log.sample_every=0",
    "log.tensorboard=false",
]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "synth"
    return prepare_synthetic(root, train=9, test=9, frames=6, progress=False)


def tiny_config(synth, *extra: str) -> Stage1Config:
    return load_config(Stage1Config, None, [*TINY, f"data.root={synth}", *extra])


def losses(run) -> list[float]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss/reconstruction"] for r in rows if "loss/reconstruction" in r]


def test_a_few_steps_decrease_the_loss(synth, tmp_path):
    cfg = tiny_config(
        synth,
        "optim.steps=40",
        "optim.lr=3e-3",
        "loss.adversarial_weight=0",
        "data.augment.flip=false",
    )
    last = train_stage1(cfg, tmp_path / "run", progress=False)
    curve = losses(tmp_path / "run")
    assert len(curve) == 40
    # Must hold on any CPU's roundings (issue 20); batches of 4 make each logged loss
    # noisy. Last 5 / first 5 over seeds 0-29: 0.33-0.60 at this lr, also under every
    # setting of tests/conftest.py (at TINY's 1e-3: 0.49-0.76, against the 0.8 this
    # asserted), and 0.88-1.18 without training (lr 0).
    assert sum(curve[-5:]) / 5 < 0.75 * sum(curve[:5]) / 5
    assert last.name == "step_00000040"
    assert (tmp_path / "run" / "config.yaml").exists()


def test_resume_continues_bit_identically(synth, tmp_path):
    cfg = tiny_config(
        synth,
        "optim.steps=6",
        "log.checkpoint_every=3",
        "log.sample_every=3",
        "loss.equivariance_weight=1",  # draws random warps from torch's global RNG
    )
    straight = train_stage1(cfg, tmp_path / "a", progress=False)
    train_stage1(cfg, tmp_path / "b", progress=False, max_steps=3)
    resumed = train_stage1(cfg, tmp_path / "b", resume=True, progress=False)
    a, b = load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys() and any(k.startswith("discriminator.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert losses(tmp_path / "a") == losses(tmp_path / "b")
    # The resumed segment's clock continues from the first one's.
    rows = [
        json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    ]
    times = [r["time"] for r in rows if "loss/reconstruction" in r]
    assert times == sorted(times)
    assert sorted(p.name for p in (tmp_path / "b" / "samples").iterdir()) == [
        "step_00000003.png",
        "step_00000006.png",
    ]


def test_warp_translator_with_multiscale_d_and_feature_matching_trains_and_reloads(synth, tmp_path):
    from keyvid.models.load import load_stage1
    from keyvid.models.warp import WarpTranslator

    cfg = tiny_config(
        synth,
        "optim.steps=3",
        "model.translator.kind=warp",
        "model.translator.motion_channels=4",
        "model.translator.motion_depth=2",
        "model.discriminator.scales=2",
        "loss.feature_matching_weight=10",
    )
    last = train_stage1(cfg, tmp_path / "run", progress=False)
    rows = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    logged = [r for r in rows if "loss/feature_matching" in r]
    assert len(logged) == 3 and all(r["loss/feature_matching"] > 0 for r in logged)
    saved = load_file(last / "model.safetensors")
    assert any(k.startswith("discriminator.scales.1.") for k in saved)
    model, _ = load_stage1(last)
    assert isinstance(model.translator, WarpTranslator)


def test_a_run_written_before_an_option_existed_resumes(synth, tmp_path):
    import yaml

    cfg = tiny_config(synth, "optim.steps=4", "log.checkpoint_every=2")
    train_stage1(cfg, tmp_path / "run", progress=False, max_steps=2)
    # As written by a keyvid without translator.kind: the key is absent from the files.
    for path in (tmp_path / "run").rglob("config.yaml"):
        saved = yaml.safe_load(path.read_text())
        model = saved["stage1"]["model"] if "stage1" in saved else saved["model"]
        del model["translator"]["kind"]
        path.write_text(yaml.safe_dump(saved))
    last = train_stage1(cfg, tmp_path / "run", resume=True, progress=False)
    assert last.name == "step_00000004"


def test_resume_with_another_model_shape_is_refused(synth, tmp_path):
    train_stage1(tiny_config(synth, "optim.steps=2"), tmp_path / "r", progress=False)
    before = sorted((tmp_path / "r" / "checkpoints").iterdir())
    with pytest.raises(KeyvidError, match="model config differs from the one of the checkpoint"):
        train_stage1(
            tiny_config(synth, "optim.steps=4", "model.num_keypoints=6"),
            tmp_path / "r",
            resume=True,
        )
    assert sorted((tmp_path / "r" / "checkpoints").iterdir()) == before


def test_a_used_run_folder_is_not_overwritten(synth, tmp_path):
    train_stage1(tiny_config(synth, "optim.steps=1"), tmp_path / "r", progress=False)
    with pytest.raises(KeyvidError, match="not empty; pass --resume"):
        train_stage1(tiny_config(synth, "optim.steps=1"), tmp_path / "r", progress=False)


def test_learning_rate_follows_decay_and_milestones(synth):
    from keyvid.training.harness.run import learning_rate

    cfg = tiny_config(
        synth,
        "optim.lr_decay=0.5",
        "optim.lr_decay_every=10",
        "optim.lr_milestones=[15, 30]",
        "optim.lr_milestone_factor=0.1",
    )
    expected = {0: 1e-3, 9: 1e-3, 10: 5e-4, 15: 5e-5, 29: 2.5e-5, 30: 1.25e-6}
    for step, lr in expected.items():
        assert learning_rate(cfg.optim, step) == pytest.approx(lr)


def test_gradient_weight_adds_an_edge_term_to_the_logged_losses(synth, tmp_path):
    cfg = tiny_config(
        synth, "optim.steps=2", "loss.adversarial_weight=0", "loss.gradient_weight=10"
    )
    train_stage1(cfg, tmp_path / "run", progress=False)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines if "loss/total" in line]
    assert len(rows) == 2 and all(r["loss/gradient"] > 0 for r in rows)


def test_init_from_copies_weights_and_a_frozen_detector_stays_put(synth, tmp_path):
    from keyvid.models.load import load_stage1
    from keyvid.models.stage1 import KeypointTranslator
    from keyvid.training.stage1 import init_weights

    no_mask = ["loss.adversarial_weight=0", "model.translator.transport=true"]
    first = train_stage1(
        tiny_config(synth, "optim.steps=2", "model.mask=false", *no_mask),
        tmp_path / "a",
        progress=False,
    )
    source, _ = load_stage1(first)
    # A translator with a mask has one more output channel: it gets the other three.
    masked = tiny_config(synth, "optim.steps=3", "model.mask=true", *no_mask)
    model = KeypointTranslator(masked.model)
    fresh = init_weights(model, source)
    assert fresh == ["translator.head.weight[3:]", "translator.head.bias[3:]"]
    torch.testing.assert_close(model.translator.head.weight[:3], source.translator.head.weight)
    for name, value in source.detector.state_dict().items():
        torch.testing.assert_close(model.detector.state_dict()[name], value)
    # Training on with the detector frozen changes T, never Q (weights or BN statistics).
    masked.init_from, masked.freeze_detector = str(first), True
    last = train_stage1(masked, tmp_path / "b", progress=False)
    trained, _ = load_stage1(last)
    for name, value in source.detector.state_dict().items():
        torch.testing.assert_close(trained.detector.state_dict()[name], value)
    assert not torch.equal(trained.translator.head.weight[:3], source.translator.head.weight)


def test_a_frozen_detector_must_come_whole_from_init_from(synth, tmp_path):
    with pytest.raises(KeyvidError, match="init_from is not set"):
        train_stage1(tiny_config(synth, "freeze_detector=true"), tmp_path / "a", progress=False)
    first = train_stage1(tiny_config(synth, "optim.steps=1"), tmp_path / "b", progress=False)
    other_k = tiny_config(
        synth, f"init_from={first}", "freeze_detector=true", "model.num_keypoints=3"
    )
    with pytest.raises(KeyvidError, match="needs the detector of"):
        train_stage1(other_k, tmp_path / "c", progress=False)
    assert not (tmp_path / "c").exists()  # refused before the run folder is made
