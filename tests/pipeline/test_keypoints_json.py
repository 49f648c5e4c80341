"""The keypoints JSON: written by predict --keypoints-out, read back as it was; any other
content is a clear error (property-based)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyvid.errors import KeyvidError
from keyvid.pipeline.generate import Generation
from keyvid.pipeline.outputs import load_keypoints_json, save_keypoints_json


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(-1, 1, (2, 5, 4, 2)).astype(np.float32)
    result = Generation(np.zeros((2, 5, 8, 8, 3), np.uint8), keypoints, np.ones((2, 5, 8, 8)), "x")
    path = save_keypoints_json(result, tmp_path / "kp.json")
    assert np.allclose(load_keypoints_json(path), keypoints, atol=1e-5)


def test_errors_name_the_problem(tmp_path):
    cases = {
        "missing.json": (None, "no such keypoint file"),
        "notjson.json": ("{", "not readable JSON"),
        "nokey.json": ('{"points": []}', 'no "keypoints"'),
        "ragged.json": ('{"keypoints": [[[[0, 0]], [[0, 0], [1, 1]]]]}', "numbers in a sample"),
        "shape.json": ('{"keypoints": [[0, 0]]}', "expected (samples, frames, K, 2)"),
        "far.json": ('{"keypoints": [[[[0, 99]]]]}', "finite (x, y)"),
    }
    for name, (text, message) in cases.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        with pytest.raises(KeyvidError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_keypoints_json(tmp_path / name)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True), st.integers(), st.text()),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.one_of(json_values, st.builds(lambda v: {"keypoints": v}, json_values)))
def test_any_json_reads_as_keypoints_or_is_refused(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("kp") / "kp.json"
    path.write_text(json.dumps(value))
    try:
        points = load_keypoints_json(path)
    except KeyvidError:
        return
    assert points.ndim == 4 and points.shape[-1] == 2 and np.isfinite(points).all()
