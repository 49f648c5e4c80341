"""`keyvid edit`: detect an image's keypoints, edit them, render the posed image."""

from __future__ import annotations

import json

import numpy as np
import pytest

from keyvid.cli import main
from keyvid.io import read_image
from keyvid.pipeline.generate import Pipeline
from keyvid.pipeline.outputs import load_keypoints_json
from tests.pipeline.tiny import IMAGE_SIZE, NUM_KEYPOINTS


def edit(models, image, *extra: str) -> int:
    return main(["edit", "--checkpoint", str(models.pipeline), "--image", str(image), *extra])


def test_detect_edit_render(models, image, tmp_path, capsys):
    kp = tmp_path / "kp.json"
    assert edit(models, image, "--detect", str(kp)) == 0
    points = load_keypoints_json(kp)
    assert points.shape == (1, 1, NUM_KEYPOINTS, 2)
    pipe = Pipeline.from_pretrained(models.pipeline)
    np.testing.assert_allclose(points[0, 0], pipe.detect(read_image(image)), atol=1e-5)

    moved = json.loads(kp.read_text())
    moved["keypoints"][0][0] = [[x + 0.3, y] for x, y in moved["keypoints"][0][0]]
    kp.write_text(json.dumps(moved))
    out = tmp_path / "posed.png"
    assert edit(models, image, "--keypoints", str(kp), "--out", str(out)) == 0
    posed = read_image(out)
    assert posed.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
    # The same as the Python API, deterministic; and not the input's own pose.
    result = pipe.edit(read_image(image), load_keypoints_json(kp)[0, 0])
    np.testing.assert_array_equal(posed, result.frames[0, 1])
    same = pipe.edit(read_image(image), points[0, 0]).frames[0, 1]
    assert np.abs(same.astype(int) - posed.astype(int)).max() > 0


def test_a_predict_file_picks_sample_and_frame(models, image, tmp_path):
    kp = tmp_path / "seq.json"
    args = ["predict", "--checkpoint", str(models.pipeline), "--image", str(image)]
    assert main([*args, "--action", "squats", "--frames", "3", "--samples", "2",
                 "--out", str(tmp_path / "v.gif"), "--keypoints-out", str(kp)]) == 0  # fmt: skip
    out = tmp_path / "f.png"
    extra = ["--keypoints", str(kp), "--sample", "1", "--frame", "2", "--out", str(out)]
    assert edit(models, image, *extra, "--upscale", "2", "--overlay") == 0
    assert read_image(out).shape == (2 * IMAGE_SIZE, 2 * IMAGE_SIZE, 3)


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (None, [], "give either --detect KP.json or --keypoints KP.json"),
        ("ok", ["--out", "{tmp}/x.gif"], "unsupported output type '.gif'"),
        ("ok", [], "--out OUT.png is required"),
        ("ok", ["--frame", "5", "--out", "{tmp}/x.png"], "--sample 0 --frame 5 is outside"),
        ("few", ["--out", "{tmp}/x.png"], f"it has {NUM_KEYPOINTS} keypoints"),
        ("nan", ["--out", "{tmp}/x.png"], "must be finite"),
    ],
)
def test_bad_edits_are_one_line(models, image, tmp_path, capsys, make, extra, message):
    args = [a.format(tmp=tmp_path) for a in extra]
    if make is not None:
        kp = tmp_path / "kp.json"
        points = {"ok": [[[[0.1, 0.2]] * NUM_KEYPOINTS]], "few": [[[[0.1, 0.2]] * 2]]}
        text = json.dumps({"keypoints": points.get(make, [[[[0.1, 0.2]] * NUM_KEYPOINTS]])})
        kp.write_text(text.replace("0.2", "NaN") if make == "nan" else text)
        args = ["--keypoints", str(kp), *args]
    assert edit(models, image, *args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
