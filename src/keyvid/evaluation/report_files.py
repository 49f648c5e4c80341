"""What ``keyvid evaluate`` writes: metrics.json, report.md, plots and example videos.

report.md lays the rows out as the paper's tables: Table 1 (FVD, here beside the
in-domain FD and the per-frame FD) and Table 2 (action-recognition accuracy of generated
videos), then the sharpness of the actor's region, the keypoint-sequence figures, the
motion metrics (ACTOR/MDM protocol on keypoints) and the stage-1 figures. A report with
skipped metrics says so at the top.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from keyvid.io import write_image, write_video
from keyvid.io.image import atomic_output
from keyvid.viz import bar_chart, image_grid, label_image, upscale, video_grid

ROW_NAMES = {
    "real": "Real videos",
    "generated": "Ours",
    "generated_no_action": "Ours w/o a",
    "copy_first_frame": "Copy first frame",
    "pseudo_label_keypoints": "Pseudo-label keypoints -> T",
}
EXAMPLE_SCALE = 2  # 64² frames are small to look at
STORYBOARD_EVERY = 8  # frames between storyboard columns


def write_report(result: dict, examples: list[dict], out_dir: Path, *, actions: list[str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_text(out_dir / "metrics.json", json.dumps(result, indent=2) + "\n")
    _write_text(out_dir / "report.md", markdown_report(result, actions))
    rows = result["rows"]
    for metric, title, fmt in (
        ("action_accuracy", "action accuracy (in-domain classifier)", "{:.2f}"),
        ("fd_indomain", "in-domain Fréchet distance to real (lower is better)", "{:.3g}"),
        ("fvd", "FVD (lower is better)", "{:.0f}"),
        ("fd_frames", "per-frame Fréchet distance to real (lower is better)", "{:.3g}"),
        ("sharpness_relative", "actor-region sharpness relative to real (real = 1)", "{:.2f}"),
    ):
        values = {ROW_NAMES[r]: m[metric] for r, m in rows.items() if metric in m}
        if values:
            write_image(out_dir / f"{metric}.png", bar_chart(values, title=title, fmt=fmt))
    if examples:
        write_video(out_dir / "examples.gif", example_grid(examples, actions), fps=8)
        write_image(out_dir / "examples.png", example_storyboard(examples, actions))


def _sampling(result: dict) -> str:
    """How the motion was sampled: the generator, its guidance and the travel factor."""
    kind = result.get("motion_generator", "cvae")
    words = [f"Motion generator: {kind}"]
    if kind == "diffusion":
        guidance = result.get("guidance")
        words.append(f"guidance {guidance:g}" if guidance is not None else "its default guidance")
    scale = result.get("motion_scale")
    words.append(f"motion scale {scale:g}" if scale is not None else "its own travel factors")
    return ", ".join(words) + "."


def markdown_report(result: dict, actions: list[str]) -> str:
    rows = result["rows"]
    lines = [
        "# keyvid evaluation",
        "",
        f"Model `{result['checkpoint']}` on `{result['data']}` ({result['split']} split): "
        f"{result['num_videos']} videos × {result['samples_per_video']} sample(s), "
        f"{result['frames_per_video']} frames each (the input, then generated frames); "
        f"seed {result['seed']}; {result['seconds']:.0f} s. {_sampling(result)}",
        "",
    ]
    if result["skipped"]:
        lines += ["**Partial report**: these metrics were not computed:", ""]
        lines += [f"- `{name}`: {why}" for name, why in result["skipped"].items()]
        lines.append("")
    if result["warnings"]:
        lines += ["Read with care:", ""] + [f"- {w}" for w in result["warnings"]] + [""]
    lines += _table(
        "Table 1: distribution distance to the real videos (paper Table 1; lower is better)",
        rows,
        [
            ("In-domain FD", "fd_indomain", "{:.4g}"),
            ("FVD", "fvd", "{:.1f}"),
            ("Per-frame FD", "fd_frames", "{:.4g}"),
        ],
        skip_real=True,
    )
    if any("fd_frames" in m for m in rows.values()):
        lines += [
            "Per-frame FD: Fréchet distance between single frames (1 to the last; frame 0 is "
            "the input) on the classifier's first, spatial layers, each frame seen alone: "
            "how real each frame looks, whatever the motion.",
            "",
        ]
    lines += _sharpness_table(rows)
    lines += _table(
        "Table 2: action-recognition accuracy (paper Table 2 protocol; in-domain classifier)",
        rows,
        [("Accuracy", "action_accuracy", "{:.1%}")],
    )
    lines += _per_class_table(rows, actions)
    lines += _table(
        "Generated keypoint sequences vs the pseudo-labels of the real video "
        "(keypoint units, [-1, 1] coordinates)",
        {r: m for r, m in rows.items() if "keypoint_l1" in m},
        [
            ("L1", "keypoint_l1", "{:.4f}"),
            ("L1 best of N", "keypoint_l1_best", "{:.4f}"),
            ("Diversity", "keypoint_diversity", "{:.4f}"),
            ("Motion", "keypoint_motion", "{:.4f}"),
            ("Motion of the data", "keypoint_motion_data", "{:.4f}"),
        ],
    )
    lines += _motion_table(result.get("motion_recognition") or {}, result.get("motion_classifier"))
    lines += _stage1_table(result["stage1"])
    lines += ["Files: `metrics.json`, plots `*.png`, examples `examples.gif` / `examples.png`.", ""]
    return "\n".join(lines)


def _table(title: str, rows: dict, columns: list[tuple[str, str, str]], *, skip_real=False):
    present = [c for c in columns if any(c[1] in m for m in rows.values())]
    if not present:
        return []
    lines = [f"## {title}", "", "| Method | Videos | " + " | ".join(c[0] for c in present) + " |"]
    lines.append("|---|---:|" + "---:|" * len(present))
    for row, metrics in rows.items():
        if skip_real and row == "real":
            continue
        cells = [fmt.format(metrics[key]) if key in metrics else "—" for _, key, fmt in present]
        lines.append(f"| {ROW_NAMES[row]} | {metrics['videos']} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _sharpness_table(rows: dict) -> list[str]:
    """Actor-region sharpness relative to the real frames, overall and at a few frames."""
    present = {r: m for r, m in rows.items() if "sharpness_relative" in m}
    if not present:
        return []
    generated = len(next(iter(present.values()))["sharpness_relative_per_frame"])  # L-1
    shown = sorted({1, (generated + 1) // 2, generated})  # frame indices, 1 to L-1
    flat = {}  # the shown frames as columns of _table
    for row, m in present.items():
        per_frame = m["sharpness_relative_per_frame"]  # frame indices 1..L-1
        at = {f"frame_{t}": per_frame[t - 1] for t in shown if per_frame[t - 1] is not None}
        flat[row] = {"videos": m["videos"], "sharpness_relative": m["sharpness_relative"], **at}
    columns = [("All frames", "sharpness_relative", "{:.3f}")]
    columns += [(f"Frame {t}", f"frame_{t}", "{:.3f}") for t in shown]
    title = "Sharpness of the actor's region relative to the real frames (1 = as sharp)"
    return [
        *_table(title, flat, columns),
        "Gradient energy (squared differences of neighbouring pixels) weighted by soft discs "
        "around each frame's own keypoints, over frames 1 to the last, divided by the real "
        "frames' at the same frame indices: below 1, the renderer blurs the actor.",
        "",
    ]


def _per_class_table(rows: dict, actions: list[str]) -> list[str]:
    """Accuracy per action: which actions a row's videos show recognisably."""
    present = {
        r: m["action_accuracy_per_class"]
        for r, m in rows.items()
        if "action_accuracy_per_class" in m
    }
    if not present:
        return []
    lines = [
        "Per action:",
        "",
        "| Action | " + " | ".join(ROW_NAMES[r] for r in present) + " |",
        "|---|" + "---:|" * len(present),
    ]
    for c, action in enumerate(actions):
        cells = [f"{v[c]:.0%}" if v[c] is not None else "—" for v in present.values()]
        lines.append(f"| {action} | " + " | ".join(cells) + " |")
    return [*lines, ""]


MOTION_ROW_NAMES = {
    "pseudo_label_keypoints": "Real (Q on the real videos)",
    "generated": "Ours",
    "generated_no_action": "Ours w/o a",
}


def _motion_table(motion: dict, classifier: dict | None) -> list[str]:
    """The ACTOR/MDM action-to-motion metrics of the keypoint sequences."""
    if not motion:
        return []
    columns = [
        ("Accuracy", "accuracy", "{:.1%}"),
        ("FID", "fid", "{:.3g}"),
        ("FID to train", "fid_train", "{:.3g}"),
        ("Diversity", "diversity", "{:.3f}"),
        ("Multimodality", "multimodality", "{:.3f}"),
    ]
    lines = [
        "## Motion (keypoint-sequence classifier on Q's keypoints; ACTOR/MDM protocol)",
        "",
        "| Keypoints | Sequences | " + " | ".join(c[0] for c in columns) + " |",
        "|---|---:|" + "---:|" * len(columns),
    ]
    for row, m in motion.items():
        cells = [fmt.format(m[key]) if m.get(key) is not None else "—" for _, key, fmt in columns]
        name = MOTION_ROW_NAMES.get(row, row)
        lines.append(f"| {name} | {m['sequences']} | " + " | ".join(cells) + " |")
    lines.append("")
    if classifier is not None:
        lines += [
            f"A GRU action classifier trained on Q's keypoints of {classifier['train_videos']} "
            f"training videos (training accuracy {classifier['train_accuracy']:.1%}) reads "
            "each row's keypoint sequences (the real row: Q on the real test windows). FID: "
            "Fréchet distance of its features to the real row's (FID to train: to the "
            "training sequences'); diversity: mean feature distance of "
            f"{classifier['diversity_pairs']} random pairs; multimodality: of "
            f"{classifier['multimodality_pairs']} random pairs of one action, averaged over "
            "the actions (fewer when the set has fewer pairs). Accuracy: higher is better; "
            "FID: lower (the real row's FID to train: the gap between two samples of real "
            "motion); diversity and "
            "multimodality: closer to the real row's.",
            "",
        ]
    return lines


def _stage1_table(stage1: dict) -> list[str]:
    lines = [
        "## Stage 1: reconstruction of test frame pairs and keypoint error",
        "",
        "| Stage 1 | L1 | PSNR (dB) | SSIM | Keypoint distance | Keypoint error (IMM) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    entries = [(label, e["reconstruction"], e.get("keypoint_error")) for label, e in stage1.items()]
    if "model" in stage1:
        entries.append(
            ("copy the reference", stage1["model"]["reconstruction_copy_reference"], None)
        )
    for label, r, err in entries:
        err_text = f"{err:.4f}" if err is not None else "—"
        lines.append(
            f"| {label} | {r['l1']:.4f} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
            f"{r['keypoint_distance']:.4f} | {err_text} |"
        )
    pairs = next(iter(stage1.values()))["reconstruction"]["pairs"] if stage1 else 0
    lines += [
        "",
        f"{pairs} test pairs; keypoint distance: |Q(v̂) − Q(target)|; keypoint error: linear "
        "regression to ground-truth joints, fraction of image size.",
        "",
    ]
    return lines


def _cells(
    example: dict, actions: list[str], rows: tuple[str, ...] = tuple(ROW_NAMES)
) -> list[tuple[str, np.ndarray]]:
    """(caption, (T, H, W, 3) video) of each of ``rows`` present in an example, upscaled."""
    cells = []
    for row in rows:
        if row in example:
            caption = actions[example["action"]] if row == "real" else ROW_NAMES[row]
            cells.append((caption, upscale(example[row], EXAMPLE_SCALE)))
    return cells


def example_grid(examples: list[dict], actions: list[str]) -> np.ndarray:
    """One row per example test video, one column per report row: a (T, H', W', 3) video."""
    videos, ncols = [], 0
    for example in examples:
        cells = _cells(example, actions)
        ncols = max(ncols, len(cells))
        videos += [np.stack([label_image(f, caption) for f in v]) for caption, v in cells]
    return video_grid(videos, ncols=ncols)


def example_storyboard(examples: list[dict], actions: list[str]) -> np.ndarray:
    """Every ``STORYBOARD_EVERY``-th frame of the real and generated rows of each example."""
    tiles, ncols = [], 0
    for example in examples:
        for caption, video in _cells(example, actions, rows=("real", "generated")):
            steps = range(0, len(video), STORYBOARD_EVERY)
            ncols = len(steps)
            tiles += [label_image(video[t], caption if t == 0 else f"t={t}") for t in steps]
    return image_grid(tiles, ncols=ncols)


def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text)
