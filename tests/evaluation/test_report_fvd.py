"""``keyvid evaluate`` with I3D weights: FVD end to end, from either weights format.

A tiny pipeline that makes 9-frame videos (the fewest I3D takes), its w/o-action twin
and a classifier, so that nothing is skipped. The I3D is the full Kinetics-400 network
with the seeded weights of ``test_fvd_golden`` (random weights: the real ones cannot
ship; those give logits that differ between videos), saved in both formats keyvid
reads: a state dict like TATS's ``i3d_pretrained_400.pt`` and a TorchScript archive
with the call signature of StyleGAN-V's ``i3d_torchscript.pt``. Each report runs the
network on 10 videos (5 rows × 2), about 1.5 s each on one CPU thread.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from keyvid.cli import main
from keyvid.data.prepare import prepare_synthetic
from keyvid.evaluation.generation import ROWS
from keyvid.models.i3d import InceptionI3d
from keyvid.pipeline.loading import export_pipeline
from keyvid.training.classifier import train_classifier
from keyvid.training.stage1 import train_stage1
from keyvid.training.stage2 import train_stage2
from tests.metrics.test_fvd_golden import golden_state_dict
from tests.pipeline.tiny import extract_from_checkpoint, stage1_config, stage2_config
from tests.training.test_classifier import config as classifier_config

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")

GENERATED_FRAMES = 8  # stage 2's length: videos of 9 frames with the input frame
VIDEOS = 2  # test videos evaluated: the fewest a covariance takes


class StyleGANVLikeI3D(nn.Module):
    """The interface of StyleGAN-V's ``i3d_torchscript.pt`` around a traced network.

    ``rescale`` maps [0, 255] to [-1, 1]; ``return_features`` gives the logits, else
    their softmax. (StyleGAN-V's ``resize`` is not needed: keyvid passes False.)
    """

    def __init__(self, network: torch.jit.ScriptModule) -> None:
        super().__init__()
        self.network = network

    def forward(
        self,
        x: torch.Tensor,
        rescale: bool = False,
        resize: bool = False,
        return_features: bool = False,
    ) -> torch.Tensor:
        if rescale:
            x = x / 127.5 - 1
        logits = self.network(x)
        return logits if return_features else logits.softmax(dim=1)


def save_torchscript(state: dict[str, torch.Tensor], path: Path) -> Path:
    """InceptionI3d with ``state``, traced on one 9-frame 224² video (the padding is
    fixed for that size: the only one this test gives), scripted behind the flags."""
    model = InceptionI3d().eval()
    model.load_state_dict(state, strict=False)  # the file has no num_batches_tracked
    example = torch.zeros(1, 3, GENERATED_FRAMES + 1, 224, 224)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # sizes become constants
        traced = torch.jit.trace(model, example, check_trace=False)  # no second forward
    torch.jit.save(torch.jit.script(StyleGANVLikeI3D(traced)), str(path))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Pipeline, w/o-action pipeline and classifier on synthetic 10-frame videos."""
    folder = tmp_path_factory.mktemp("fvd-report")
    data = prepare_synthetic(folder / "synth", train=6, test=VIDEOS, frames=10, progress=False)
    stage1 = train_stage1(stage1_config(data, "optim.steps=1"), folder / "s1", progress=False)
    extract_from_checkpoint(stage1, data)
    common = [f"stage1={stage1}", "optim.steps=2", f"model.generator.length={GENERATED_FRAMES}"]
    stage2 = train_stage2(stage2_config(data, *common), folder / "s2", progress=False)
    no_action = train_stage2(
        stage2_config(data, *common, "model.generator.action=false"),
        folder / "s2-noa",
        progress=False,
    )
    clf = classifier_config(data, "optim.steps=2", "model.frames=4")
    return {
        "data": data,
        "pipeline": export_pipeline(stage2, folder / "pipeline"),
        "no_action": export_pipeline(no_action, folder / "pipeline-noa"),
        "classifier": train_classifier(clf, folder / "clf", progress=False),
    }


@pytest.fixture(scope="module")
def state_dict_file(tmp_path_factory) -> Path:
    """The seeded I3D weights as a state dict, like TATS's file."""
    path = tmp_path_factory.mktemp("i3d") / "i3d_pretrained_400.pt"
    torch.save(golden_state_dict(), path)
    return path


@pytest.fixture(scope="module")
def torchscript_file(tmp_path_factory) -> Path:
    """The same weights in a TorchScript file, like StyleGAN-V's."""
    path = tmp_path_factory.mktemp("i3d") / "i3d_torchscript.pt"
    return save_torchscript(golden_state_dict(), path)


def evaluate(models: dict[str, Path], weights: Path, out: Path) -> dict:
    """``keyvid evaluate`` as a user types it; returns metrics.json."""
    code = main(
        [
            "evaluate",
            "--checkpoint", str(models["pipeline"]),
            "--data", str(models["data"]),
            "--out", str(out),
            "--classifier", str(models["classifier"]),
            "--no-action", str(models["no_action"]),
            "--i3d-weights", str(weights),
            "--max-videos", str(VIDEOS),
        ]
    )  # fmt: skip
    assert code == 0
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def reports(models, tmp_path_factory, request) -> Callable[[str], dict]:
    """metrics.json (and its folder, "out") of each weights format, made on first use:
    each test pays only for its own report, and the comparison reuses both."""
    cache: dict[str, dict] = {}

    def report(kind: str) -> dict:
        if kind not in cache:
            weights = request.getfixturevalue(f"{kind}_file")
            out = tmp_path_factory.mktemp(f"eval-{kind}")
            cache[kind] = {**evaluate(models, weights, out), "out": out}
        return cache[kind]

    return report


def check_complete_fvd_report(result: dict) -> None:
    """Every row has a finite FVD to the real videos, nothing is skipped, and report.md
    shows the FVDs without calling itself partial."""
    assert result["frames_per_video"] == GENERATED_FRAMES + 1
    assert result["skipped"] == {} and result["complete"] is True
    assert "fvd_skipped_reason" not in result
    fvds = {row: result["rows"][row]["fvd"] for row in ROWS if row != "real"}
    assert all(math.isfinite(v) and v > 0 for v in fvds.values()), fvds
    assert result["fvd"] == fvds["generated"]
    assert result["fvd_copy_first_frame"] == fvds["copy_first_frame"]
    # The copied first frames are real frames; T, trained one step, renders unlike the
    # real videos (it renders alike whatever the keypoints: its three rows tie here).
    assert fvds["copy_first_frame"] < fvds["generated"]
    assert result["rows"]["real"]["videos"] == VIDEOS and "fvd" not in result["rows"]["real"]
    report = (result["out"] / "report.md").read_text()
    assert "Partial report" not in report
    assert f"| Ours | {VIDEOS} | " in report and f"{fvds['generated']:.1f} |" in report
    assert any("FVD from 2 real and 2 generated videos" in w for w in result["warnings"])
    assert (result["out"] / "fvd.png").stat().st_size > 0


def test_fvd_from_a_tats_state_dict(reports):
    """``--i3d-weights i3d_pretrained_400.pt`` (the TATS format): a complete report."""
    result = reports("state_dict")
    assert result["i3d_weights"].endswith("i3d_pretrained_400.pt")
    check_complete_fvd_report(result)


def test_fvd_from_a_stylegan_v_torchscript(reports):
    """``--i3d-weights i3d_torchscript.pt`` (the StyleGAN-V format): a complete report."""
    result = reports("torchscript")
    assert result["i3d_weights"].endswith("i3d_torchscript.pt")
    check_complete_fvd_report(result)


def test_both_formats_give_the_same_fvd(reports):
    """The same weights in either file give the same FVD in every row, and every other
    figure is identical: the weights file changes nothing else. (The traced network runs
    the same float32 operations: the FVDs came out bit for bit equal here; rel 1e-4
    leaves room for rounding, which an FVD near 0, as the copy row's, amplifies.)"""
    a, b = reports("state_dict"), reports("torchscript")
    for row in ROWS:
        if row != "real":
            assert b["rows"][row]["fvd"] == pytest.approx(a["rows"][row]["fvd"], rel=1e-4), row
    drop = ("fvd", "i3d_weights", "out", "seconds", "seconds_videos", "seconds_motion_classifier")
    strip = {k: v for k, v in a.items() if k not in drop and not k.startswith("fvd_")}
    other = {k: v for k, v in b.items() if k not in drop and not k.startswith("fvd_")}
    for result in (strip, other):
        result["rows"] = {
            r: {k: v for k, v in m.items() if k != "fvd"} for r, m in result["rows"].items()
        }
    assert strip == other
