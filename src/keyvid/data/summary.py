"""What a prepared dataset holds (``keyvid data info``), how it looks (``data preview``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from keyvid.data.format import PreparedDataset, read_metadata
from keyvid.data.skeleton import BONES, NUM_JOINTS
from keyvid.errors import KeyvidError


def dataset_summary(root: str | Path) -> dict:
    """Videos and frames per split and per action, resolution, joints, pseudo-label sets."""
    meta = read_metadata(root)
    splits = {}
    for split in meta["splits"]:
        data = PreparedDataset(root, split)
        per_action = Counter(data.actions[v.action] for v in data.videos)
        lengths = [v.num_frames for v in data.videos]
        splits[split] = {
            "videos": len(data),
            "frames": int(sum(lengths)),
            "frames_per_video": {"min": min(lengths), "max": max(lengths)} if lengths else None,
            "actions": {a: per_action.get(a, 0) for a in data.actions},
            "pseudo_labels": data.keypoint_sets(),
        }
    return {
        "root": str(Path(root).resolve()),
        "name": meta["name"],
        "resolution": [meta["height"], meta["width"]],
        "actions": meta["actions"],
        "joints": meta["joint_names"],
        "splits": splits,
        "source": meta.get("source", {}),
    }


def format_summary(summary: dict) -> str:
    """Human-readable text for ``dataset_summary``."""
    h, w = summary["resolution"]
    joints = summary["joints"]
    lines = [
        f"dataset {summary['name']} at {summary['root']}",
        f"resolution {h}×{w}, {len(summary['actions'])} actions, "
        + (f"{len(joints)} ground-truth joints" if joints else "no ground-truth joints"),
    ]
    names = summary["actions"]
    width = max(len(a) for a in names) if names else 0
    for split, s in summary["splits"].items():
        fpv = s["frames_per_video"]
        span = f", {fpv['min']}-{fpv['max']} frames/video" if fpv else ""
        labels = ", ".join(s["pseudo_labels"]) or "none"
        lines.append(
            f"\n{split}: {s['videos']} videos, {s['frames']} frames{span}; pseudo-labels: {labels}"
        )
        lines += [f"  {a.ljust(width)}  {s['actions'][a]}" for a in names]
    return "\n".join(lines)


def render_preview(
    root: str | Path, *, split: str = "train", videos: int = 9, scale: int = 2, joints: bool = True
) -> np.ndarray:
    """(T, H', W', 3) uint8 grid: the first video of each action (then more), joints drawn.

    Videos are picked round-robin over actions so every class appears once
    before any appears twice.
    """
    from keyvid.viz import draw_keypoints_video, label_image, upscale, video_grid

    data = PreparedDataset(root, split)
    if len(data) == 0:
        raise KeyvidError(f"{root} has no videos in the {split!r} split")
    by_action: dict[int, list[int]] = {}
    for i, v in enumerate(data.videos):
        by_action.setdefault(v.action, []).append(i)
    order = [
        ids[r]
        for r in range(max(map(len, by_action.values())))
        for ids in by_action.values()
        if r < len(ids)
    ]
    clips = []
    for i in order[:videos]:
        clip = upscale(np.asarray(data.frames(i)), scale)
        if joints and data.has_joints:
            bones = BONES if len(data.joint_names) == NUM_JOINTS else None
            clip = draw_keypoints_video(clip, np.asarray(data.joints(i)), bones=bones)
        name = data.actions[data.videos[i].action]
        clips.append(np.stack([label_image(f, name) for f in clip]))
    return video_grid(clips, ncols=min(3, len(clips)))
