from dataclasses import dataclass, field

import pytest

from keyvid.config import apply_override, choices, dump_yaml, from_dict, load_config, to_dict
from keyvid.errors import KeyvidError
from keyvid.training.config import Stage1Config, Stage2Config


@dataclass
class Inner:
    rate: float = 0.5
    mode: str = choices("a", "b", default="a")
    pair: tuple[int, int] = (1, 2)
    steps: tuple[int, ...] = ()


@dataclass
class Outer:
    name: str = "x"
    count: int = 3
    flag: bool = False
    path: str | None = None
    inner: Inner = field(default_factory=Inner)


def test_defaults_and_nested_values():
    cfg = from_dict(Outer, {"count": 7, "inner": {"rate": 2, "mode": "b", "pair": [3, 4]}})
    assert cfg.count == 7 and cfg.inner.rate == 2.0 and isinstance(cfg.inner.rate, float)
    assert cfg.inner.pair == (3, 4) and cfg.inner.mode == "b" and cfg.path is None
    assert cfg.inner.steps == ()
    assert from_dict(Inner, {"steps": [5, 10, 20]}).steps == (5, 10, 20)
    assert to_dict(from_dict(Inner, {"steps": [5]}))["steps"] == [5]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"cont": 1}, "unknown config key cont; allowed in the top level: name, count"),
        ({"inner": {"rat": 1}}, "unknown config key inner.rat; allowed in inner: rate, mode, pair"),
        ({"count": "many"}, "config key count must be an integer; got 'many'"),
        ({"count": 1.5}, "config key count must be an integer"),
        ({"flag": "yes please"}, "config key flag must be true or false"),
        ({"inner": {"mode": "c"}}, "config key inner.mode must be one of a, b; got 'c'"),
        ({"inner": {"pair": [1]}}, "config key inner.pair must be a list of 2 values"),
        ({"inner": {"steps": 5}}, "config key inner.steps must be a list"),
        ({"inner": {"steps": [5, "x"]}}, "config key inner.steps must be an integer"),
        ({"inner": 3}, "config section inner must be a mapping"),
    ],
)
def test_errors_name_the_key_and_what_is_allowed(data, message):
    with pytest.raises(KeyvidError) as e:
        from_dict(Outer, data)
    assert message in str(e.value)


def test_overrides_are_parsed_as_yaml():
    data = {}
    for item in ("count=9", "inner.rate=1e-3", "flag=true", "path=null", "name=hello world"):
        apply_override(data, item)
    cfg = from_dict(Outer, data)
    assert (cfg.count, cfg.inner.rate, cfg.flag, cfg.path, cfg.name) == (
        9,
        1e-3,
        True,
        None,
        "hello world",
    )
    with pytest.raises(KeyvidError, match="key=value"):
        apply_override({}, "count")


def test_yaml_file_round_trip(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  num_keypoints: 12\noptim:\n  lr: 1.0e-3\n")
    cfg = load_config(Stage1Config, path, ["model.image_size=64", "model.analogy=false"])
    assert cfg.model.detector.num_keypoints == cfg.model.translator.num_keypoints == 12
    assert cfg.model.translator.image_size == 64 and cfg.model.translator.analogy is False
    assert cfg.optim.lr == 1e-3
    again = tmp_path / "again.yaml"
    again.write_text(dump_yaml(cfg))
    assert to_dict(load_config(Stage1Config, again)) == to_dict(cfg)


def test_shared_settings_cannot_be_set_per_network():
    with pytest.raises(
        KeyvidError, match=r"model.detector.num_keypoints is shared: set model.num_keypoints"
    ):
        load_config(Stage1Config, None, ["model.detector.num_keypoints=3"])


def test_file_errors(tmp_path):
    with pytest.raises(KeyvidError, match="does not exist"):
        load_config(Stage1Config, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(KeyvidError, match="not valid YAML"):
        load_config(Stage1Config, bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(KeyvidError, match="mapping"):
        load_config(Stage1Config, listy)


def test_shipped_configs_load():
    from pathlib import Path

    from keyvid.training.config import ClassifierConfig

    paths = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    kinds = {"_stage2": Stage2Config, "_classifier": ClassifierConfig}
    assert all(any(p.stem.endswith(suffix) for p in paths) for suffix in kinds)
    for path in paths:
        suffix = next((s for s in kinds if path.stem.endswith(s)), None)
        load_config(kinds.get(suffix, Stage1Config), path)


@pytest.mark.parametrize(
    ("name", "num_keypoints", "actions"),
    [("penn", 40, 9), ("nemo", 15, 1), ("mgif", 60, 1)],  # paper Sec. 3.2
)
def test_paper_configs_build_the_paper_sized_models(name, num_keypoints, actions):
    from pathlib import Path

    import torch

    from keyvid.models.motion import MotionGenerator
    from keyvid.models.stage1 import KeypointTranslator

    configs = Path(__file__).resolve().parents[1] / "configs"
    stage1 = load_config(Stage1Config, configs / f"{name}.yaml")
    assert (stage1.model.num_keypoints, stage1.model.image_size) == (num_keypoints, 128)
    optim = stage1.optim
    assert (optim.batch_size, optim.lr, tuple(optim.betas)) == (32, 1e-4, (0.5, 0.999))
    assert (optim.lr_decay, optim.lr_decay_every) == (0.95, 20000)
    assert stage1.loss.reconstruction_weight == 1.0  # λ1
    model = KeypointTranslator(stage1.model).eval()
    with torch.no_grad():
        keypoints = model.detector(torch.rand(1, 3, 128, 128))
    assert keypoints.shape == (1, num_keypoints, 2)

    stage2 = load_config(Stage2Config, configs / f"{name}_stage2.yaml")
    assert (stage2.loss.l1_weight, stage2.loss.adversarial_weight) == (1000.0, 2.0)  # λ2, λ3
    assert stage2.model.generator.action == (actions > 1)  # one action: k0 only
    generator = stage2.model.generator
    assert (generator.hidden, generator.layers, generator.latent) == (1024, 2, 64)
    generator.num_keypoints = num_keypoints
    assert sum(p.numel() for p in MotionGenerator(generator).parameters()) > 10_000_000
