"""Shared fixtures: tiny generated datasets and the real clips folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from keyvid.coords import to_pixels
from keyvid.data.format import DatasetWriter

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ACTIONS = ("wave", "jump", "spin")


def dot_video(rng: np.random.Generator, frames: int, size: int, joints: int = 3):
    """A video of coloured dots on black moving along random lines, and the dots' positions."""
    start = rng.uniform(-0.7, 0.7, size=(joints, 2))
    end = rng.uniform(-0.7, 0.7, size=(joints, 2))
    t = np.linspace(0, 1, frames)[:, None, None]
    points = (start * (1 - t) + end * t).astype(np.float32)  # (T, J, 2)
    video = np.zeros((frames, size, size, 3), dtype=np.uint8)
    px = np.rint(to_pixels(points, (size, size))).astype(int)
    for f in range(frames):
        for j in range(joints):
            x, y = px[f, j]
            video[f, y, x] = (255, 255 * (j % 2), 80 * j)
    return video, points


def write_dot_dataset(
    root: Path, *, train: int = 6, test: int = 3, frames: int = 8, size: int = 16
):
    rng = np.random.default_rng(0)
    with DatasetWriter(root, actions=ACTIONS, size=(size, size), joint_names=("a", "b", "c")) as w:
        for split, n in (("train", train), ("test", test)):
            for i in range(n):
                video, points = dot_video(rng, frames + i % 3, size)
                w.add(split, f"{split}{i}", video, action=i % len(ACTIONS), joints=points)
    return root


# Another CPU's numerics, on this one (issue 20). Tiny trainings round differently on
# another processor, so a test that trains must hold on any float trajectory. Most of
# what differs between CPUs can be switched here:
#   ATEN_CPU_CAPABILITY=default|avx2|avx512  torch's vectorised kernels (torch reads it)
#   ONEDNN_MAX_CPU_ISA=AVX2, MKL_CBWR=AVX2   oneDNN's and MKL's kernels (they read them)
#   KEYVID_TEST_NO_MKLDNN=1                  no oneDNN at all (read here)
#   KEYVID_TEST_THREADS=N                    intra-op threads (read here; default 1)
# A CPU without AVX-512, in one command (the header pytest prints shows what is in force):
#   ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2 \
#     .venv/bin/python -m pytest -q -p no:cacheprovider
# The first three are inherited by the subprocesses tests start; the last two are not.


def _test_threads() -> int:
    return int(os.environ.get("KEYVID_TEST_THREADS", "1"))


def pytest_report_header(config) -> str:
    import torch

    mkldnn = not os.environ.get("KEYVID_TEST_NO_MKLDNN") and torch.backends.mkldnn.is_available()
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "all")
    return (
        f"keyvid numerics: torch CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"oneDNN {'on (max ISA ' + isa + ')' if mkldnn else 'off'}, "
        f"MKL_CBWR {os.environ.get('MKL_CBWR', 'unset')}, {_test_threads()} thread(s)"
    )


@pytest.fixture(autouse=True, scope="session")
def cpu_numerics():
    """One intra-op thread for the whole suite (tests use tiny tensors, and with 2
    threads on a busy 2-core machine OpenMP waits made small ops up to ~70× slower),
    and the switches above."""
    import torch

    threads, mkldnn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(_test_threads())
    if os.environ.get("KEYVID_TEST_NO_MKLDNN"):
        torch.backends.mkldnn.enabled = False
    yield
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = mkldnn


@pytest.fixture
def make_dot_dataset():
    """``write_dot_dataset`` itself, for tests that need several datasets or options."""
    return write_dot_dataset


@pytest.fixture
def dot_dataset(tmp_path: Path) -> Path:
    """A tiny prepared dataset (6 train, 3 test videos of 8-10 frames at 16×16, 3 joints)."""
    return write_dot_dataset(tmp_path / "dots")


@pytest.fixture
def real_clips_dir() -> Path:
    """``../shared/data/real-clips`` beside the project; skips where it is absent."""
    folder = PROJECT_ROOT.parent / "shared" / "data" / "real-clips"
    if not folder.is_dir():
        pytest.skip(f"real clips folder {folder} is absent (it lives in shared/ beside the repo)")
    return folder
