"""Build prepared datasets from sources. The synthetic dataset is the embedded default."""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from keyvid.data.actions import PENN_ACTIONS
from keyvid.data.format import DatasetWriter
from keyvid.data.skeleton import JOINT_NAMES
from keyvid.data.synth import synth_videos
from keyvid.errors import KeyvidError

SYNTH_SIZES = (64, 128)


def prepare_synthetic(
    root: str | Path,
    *,
    train: int = 450,
    test: int = 90,
    size: int = 64,
    frames: int = 40,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Render the synthetic action dataset into a prepared dataset at ``root``.

    Defaults: 50 training and 10 test videos per class (the test size of the
    paper's Penn Action split), 64×64 for the CPU demo, 40 frames so that stage 2
    can draw the authors' 33-frame sequences.
    """
    if size not in SYNTH_SIZES:
        raise KeyvidError(
            f"unsupported --size {size}; choose one of {', '.join(map(str, SYNTH_SIZES))}"
        )
    if train < 0 or test < 0 or train + test == 0:
        raise KeyvidError("--train and --test must be ≥ 0 and not both 0")
    if frames < 2:
        raise KeyvidError(f"--frames {frames} is too few; a video needs at least 2 frames")
    source = {"kind": "synthetic", "seed": seed, "frames": frames, "train": train, "test": test}
    with DatasetWriter(
        root,
        actions=PENN_ACTIONS,
        size=(size, size),
        joint_names=JOINT_NAMES,
        name="synth",
        source=source,
        overwrite=overwrite,
    ) as writer:
        for split, count in (("train", train), ("test", test)):
            videos = synth_videos(split, count, seed=seed, size=size, frames=frames)
            for video_id, action, video, joints in tqdm(
                videos, total=count, desc=f"synth {split}", unit="video", disable=not progress
            ):
                writer.add(split, video_id, video, action=action, joints=joints)
    return Path(root)
