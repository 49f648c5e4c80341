"""Property-based: any overrides or YAML file give a valid config or a KeyvidError."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyvid.config import load_config
from keyvid.errors import KeyvidError
from keyvid.training.config import ClassifierConfig, Stage1Config, Stage2Config

KEYS = [
    "optim.lr",
    "optim.steps",
    "optim.betas",
    "optim.lr_milestones",
    "model.num_keypoints",
    "model.image_size",
    "model.mask",
    "model.translator.channels",
    "data.augment.crop_scale",
    "loss.reconstruction",
    "log.log_every",
    "nope",
    "model.nope.deeper",
    "optim",
    "",
]
VALUES = st.one_of(
    st.sampled_from(["1", "-3", "0.5", "1e-3", "true", "null", "[1, 2]", "[0.5]", "{a: 1}", "vgg"]),
    st.sampled_from(["pixel", "[", "]:", "'x", "!!python/object:os.system"]),
    st.text(max_size=12),
)
overrides = st.lists(st.tuples(st.sampled_from(KEYS), VALUES).map("=".join), max_size=4)


@settings(max_examples=300, deadline=None)
@given(items=overrides, cls=st.sampled_from([Stage1Config, Stage2Config, ClassifierConfig]))
def test_any_overrides_give_a_config_or_a_clear_error(items, cls):
    try:
        config = load_config(cls, None, items)
    except KeyvidError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert isinstance(config, cls)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.one_of(st.text(max_size=80), overrides.map("\n".join)))
def test_any_yaml_file_gives_a_config_or_a_clear_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(text.replace("=", ": ", 1) if "=" in text else text)
    with contextlib.suppress(KeyvidError):  # anything else fails the test
        load_config(Stage1Config, path)
