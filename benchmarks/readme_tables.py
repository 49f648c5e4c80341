"""Write the README's figure tables from the committed benchmark JSON, or check them.

Every generated table sits in README.md between a pair of markers::

    <!-- table:NAME -->
    ... written by this script, never by hand ...
    <!-- /table:NAME -->

and is rendered only from ``benchmarks/results/*.json``, so each figure in it is one a
committed JSON holds. The tables (``TABLES``):

- ``headline``: the shipped ``synth`` model on an untouched test split
  (``evaluation_synth_test.json``, written by ``benchmarks.evaluate_synth``);
- ``train-speed``: training steps against the machine's peak (``train_speed.json``);
- ``predict-speed``: inference speed of the shipped model (``predict.json``).

Run from the repository root::

    python -m benchmarks.readme_tables            # rewrite README.md between the markers
    python -m benchmarks.readme_tables --check    # exit 1 with a unified diff if stale

``tests/test_readme_tables.py`` runs the check, so CI fails when README.md and the JSON
disagree. A table whose JSON does not exist is replaced by a line that says so.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import floor, log10
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS_DIR = ROOT / "benchmarks" / "results"

MARKER = re.compile(
    r"<!-- table:(?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /table:(?P=name) -->", re.DOTALL
)

# Descriptions of benchmarks/train_speed.py's MODELS (its configs), in README order.
TRAIN_MODELS = {
    "stage1 synth 64²": "stage 1, synth default 64², K = 16",
    "stage1 paper 128²": "stage 1, paper 128², K = 40, D_im",
    "stage2 synth": "stage 2, synth 2 × 256 LSTMs",
    "stage2 paper": "stage 2, paper 2 × 1024 LSTMs",
}
# Rows of `keyvid evaluate`'s metrics["rows"], as the headline table names them.
HEADLINE_ROWS = {
    "real": "real videos",
    "generated": "**generated (ours)**",
    "generated_no_action": 'w/o action (the paper\'s "w/o a")',
    "copy_first_frame": "copy first frame (a still video)",
    "pseudo_label_keypoints": "T driven by pseudo-label keypoints (the cap)",
}
PEAK_TARGET, PEAK_MOONSHOT = 0.40, 0.60  # fraction of peak, stage 1 at the synth default
PREDICT_FPS_TARGET, PREDICT_128_VS_32_TARGET = 32, 4.4
WIDTH = 88  # README prose is wrapped at this width
GLUE = re.compile(r"(?<=\d) (?=%|s\b|dB\b|GFLOP\b)|(?<=[≤≥]) ")  # a figure and its unit


# --------------------------------------------------------------------------- numbers


def sig(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant figures, never in exponent notation."""
    if x == 0:
        return "0"
    decimals = max(0, digits - 1 - floor(log10(abs(x))))
    return f"{x:.{decimals}f}"


def pct(x: float, decimals: int = 1) -> str:
    return f"{100 * x:.{decimals}f} %"


def span(values: list[float], fmt: Callable[[float], str]) -> str:
    """One figure, or the range ``lo-hi`` of several (as formatted)."""
    lo, hi = fmt(min(values)), fmt(max(values))
    return lo if lo == hi else f"{lo}-{hi}"


def para(text: str, bullet: bool = False) -> str:
    """Prose wrapped as the README wraps it (a bullet indents its continuation lines)."""
    first, rest = ("- ", "  ") if bullet else ("", "")
    glued = GLUE.sub("\xa0", text)  # textwrap breaks at ASCII whitespace only
    return textwrap.fill(
        glued,
        WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    ).replace("\xa0", " ")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def machine_line(data: dict, stem: str, command: str) -> str:
    """Where and when a JSON's figures were measured, and by what."""
    m = data.get("machine", {})
    gpu = f"GPU {m['cuda']}" if m.get("cuda") else "no GPU"
    threads = m.get("torch_threads", "?")
    return (
        f"Measured {data.get('date', '?')[:10]} on a {m.get('cores', '?')}-core "
        f"{m.get('cpu', '?')} CPU ({threads} torch thread{'s' * (threads != 1)}, {gpu}), "
        f"torch {m.get('torch', '?')}, Python {m.get('python', '?')}, by `{command}` "
        f"(`benchmarks/results/{stem}.json`)."
    )


# --------------------------------------------------------------------------- headline


def _split_seed(data_path: str) -> str:
    match = re.search(r"seed(\d+)", Path(data_path).name)
    return match.group(1) if match else "?"


def _samples(n: int) -> str:
    return f"{n} sample{'s' * (n != 1)}"


def _headline_rows(rows: Mapping[str, dict]) -> list[list[str]]:
    out = []
    for key, label in HEADLINE_ROWS.items():
        row = rows.get(key)
        if row is None:
            continue
        acc = pct(row["action_accuracy"]) if "action_accuracy" in row else "—"
        fd = f"{row['fd_indomain']:.1f}" if "fd_indomain" in row else "—"
        if key == "generated":
            acc, fd = f"**{acc}**", f"**{fd}**"
        out.append([label, acc, fd])
    return out


def _stage1_line(stage1: Mapping) -> str:
    model = stage1.get("model", {})
    rec, copy = model.get("reconstruction"), model.get("reconstruction_copy_reference")
    parts = []
    if rec:
        parts.append(
            f"reconstruction of {rec['pairs']} test pairs: L1 {sig(rec['l1'])}, "
            f"PSNR {rec['psnr']:.1f} dB, SSIM {rec['ssim']:.3f}"
        )
        if copy:
            parts[-1] += (
                f" (copying the reference frame: L1 {sig(copy['l1'])}, "
                f"PSNR {copy['psnr']:.1f} dB, SSIM {copy['ssim']:.3f})"
            )
    if model.get("keypoint_error") is not None:
        parts.append(f"keypoint regression error {sig(model['keypoint_error'])} of image size")
    return f"Stage 1 on the same split: {'; '.join(parts)}." if parts else ""


def render_headline(data: dict, stem: str) -> str:
    m = data["metrics"]
    rows = m["rows"]
    seed, videos = _split_seed(data.get("data", m.get("data", ""))), m["num_videos"]
    classes = len(rows["real"]["action_accuracy_per_class"]) if "real" in rows else 0
    motion = (
        "travel-calibrated motion"
        if m.get("motion_scale") is None
        else f"motion scale {m['motion_scale']}"
    )
    parts = [
        f"### Headline (untouched test split, seed {seed}, {videos} actors)",
        "",
        para(
            f"The shipped `synth` model on {videos} test videos of actors that no model and no "
            f"choice of ours saw ({_samples(m['samples_per_video'])} per video, {motion}; action "
            f"accuracy and in-domain FD from the shipped classifier `{m.get('classifier')}`"
            + (f", chance {pct(1 / classes)}" if classes else "")
            + "). "
            + machine_line(
                data, stem, f"python -m benchmarks.evaluate_synth --data {data.get('data')}"
            )
        ),
        "",
        table(["videos", "action accuracy", "in-domain FD"], _headline_rows(rows)),
    ]
    stage1 = _stage1_line(m.get("stage1") or {})
    if stage1:
        parts += ["", para(stage1)]
    if m.get("fvd") is None and m.get("fvd_skipped_reason"):
        parts += ["", para(f"FVD: not measured: {m['fvd_skipped_reason']}.")]
    return "\n".join(parts)


# --------------------------------------------------------------------------- training


def _train_row(model: str, variants: Mapping[str, dict], peak: Mapping[str, float]) -> list[str]:
    base = variants.get("fp32", {})
    if "step_s" not in base:
        return [TRAIN_MODELS.get(model, model), *["error"] * 9]
    unit = "pairs" if model.startswith("stage1") else "seqs"

    def speedup(name: str) -> str:
        row = variants.get(name)
        if row is None:
            return "—"
        return f"{row['speedup_vs_fp32']:.2f}×" if "speedup_vs_fp32" in row else "error"

    return [
        TRAIN_MODELS.get(model, model),
        str(round(base["items_per_s"] * base["step_s"])),  # the batch: items per step
        f"{sig(base['step_s'])} s",
        f"{sig(base['items_per_s'])} {unit}",
        f"{base['gflop_per_step']:.0f}",
        f"{base['achieved_gflops']:.0f} ({pct(base['fraction_of_peak'], 0)})",
        speedup("bf16"),
        speedup("channels_last"),
        speedup("compile"),
        f"{base['peak_rss_mb'] / 1024:.1f} GiB",
    ]


def _by_model(results: list[dict]) -> dict[str, dict[str, dict]]:
    grouped: dict[str, dict[str, dict]] = {}
    for row in results:
        grouped.setdefault(row["model"], {})[row["variant"]] = row
    order = [m for m in TRAIN_MODELS if m in grouped] + [
        m for m in grouped if m not in TRAIN_MODELS
    ]
    return {m: grouped[m] for m in order}


def _peak_line(peak: Mapping[str, float]) -> str:
    matmul = max(v for k, v in peak.items() if k.startswith("matmul") and k.endswith("fp32"))
    return (
        f"The peak, the best large matmul or 3×3 convolution of the precision in the same "
        f"run: {peak['peak_fp32'] / 1e9:.0f} GFLOP/s fp32 (the fp32 matmul reaches "
        f"{matmul / 1e9:.0f}), {peak['peak_bf16'] / 1e9:.0f} GFLOP/s bf16."
    )


def _profile_line(profile: Mapping) -> str:
    ops = profile.get("top_ops") or []
    big = [f"`{op['op']}` {pct(op['share'], 0)}" for op in ops if op["share"] >= 0.03]
    if not big:
        return ""
    return (
        f"Where a `{profile['case']}` step's time goes (`torch.profiler`, self time): "
        f"{', '.join(big)}; every other op under 3 %."
    )


def _ddp_line(ddp: list[dict]) -> str:
    if len(ddp) != 2 or any("pairs_per_s" not in r for r in ddp):
        return ""
    one, two = ddp
    return (
        f"Data-parallel stage 1 (the real trainer): {two['processes']} processes × "
        f"{two['threads_each']} thread (`torchrun`, gloo) {sig(two['pairs_per_s'])} pairs/s "
        f"against {sig(one['pairs_per_s'])} for {one['processes']} process × "
        f"{one['threads_each']} threads ({two['speedup']:.2f}×)."
    )


def _synth_stage1_line(grouped: Mapping[str, dict[str, dict]]) -> str:
    row = grouped.get("stage1 synth 64²", {}).get("fp32", {})
    if "fraction_of_peak" not in row:
        return ""
    return (
        f"Stage 1 at the synth default runs at {pct(row['fraction_of_peak'], 0)} of the "
        f"fp32 peak (target {pct(PEAK_TARGET, 0)}, moonshot {pct(PEAK_MOONSHOT, 0)})."
    )


def render_train_speed(data: dict, stem: str) -> str:
    grouped, peak = _by_model(data["results"]), data["peak_flops"]
    header = ["training step", "batch", "fp32 step", "items/s", "GFLOP/step",
              "GFLOP/s (of peak)", "bf16", "channels_last", "compile", "peak RSS"]  # fmt: skip
    firsts = [r["first_step_s"] for v in grouped.values() for r in v.values()
              if r["variant"] == "compile" and "first_step_s" in r]  # fmt: skip
    note = "(speed-ups: fp32 step time / variant step time, measured side by side"
    if firsts:
        note += f"; compile's first step, {span(firsts, lambda s: f'{s:.1f}')} s, is not counted"
    lines = [
        para(machine_line(data, stem, "python -m benchmarks.train_speed") + " " + _peak_line(peak)),
        "",
        table(header, [_train_row(m, v, peak) for m, v in grouped.items()]),
        "",
        para(note + ".)"),
    ]
    extra = [_synth_stage1_line(grouped), _profile_line(data.get("profile") or {}),
             _ddp_line(data.get("ddp_scaling") or [])]  # fmt: skip
    bullets = [para(line, bullet=True) for line in extra if line]
    return "\n".join([*lines, *([""] if bullets else []), *bullets])


# --------------------------------------------------------------------------- predict

_CASE = re.compile(r"(?P<size>\d+)px(?P<warp> warp)? (?P<frames>\d+) frames x(?P<samples>\d+)")


def _case_label(case: str) -> str:
    match = _CASE.fullmatch(case)
    if not match:
        return case
    renderer = ", warping translator" if match["warp"] else ""
    samples = _samples(int(match["samples"]))
    return f"{match['size']}²{renderer}, {match['frames']} frames, {samples}"


def _predict_rows(results: list[dict]) -> list[list[str]]:
    """One row per case; a case measured twice in the run shows the range of both."""
    merged: dict[str, list[dict]] = {}
    for row in results:
        merged.setdefault(row["case"], []).append(row)
    out = []
    for case, rows in merged.items():
        secs = span([r["seconds"] for r in rows], lambda s: sig(s, 2))
        fps = [r["frames_per_s"] for r in rows if "frames_per_s" in r]
        out.append(
            [_case_label(case), f"{secs} s", span(fps, lambda f: f"{f:.0f}") if fps else "—"]
        )
    return out


def _predict_scaling(results: list[dict], ratio: float | None) -> str:
    by_case = {r["case"]: r for r in results}  # the last of a case measured twice
    s32, s128 = by_case.get("64px 32 frames x1"), by_case.get("64px 128 frames x1")
    fps = [r["frames_per_s"] for r in results if r["case"].startswith("64px")]
    parts = []
    if fps:
        parts.append(f"At 64² at least {min(fps):.0f} frames/s (target ≥ {PREDICT_FPS_TARGET})")
    if s32 and s128:
        parts.append(
            f"128 frames take {s128['seconds'] / s32['seconds']:.1f}× as long as 32 "
            f"(target ≤ {PREDICT_128_VS_32_TARGET}×)"
        )
    if ratio is not None:
        parts.append(f"time per frame at 128 frames / at 16: {ratio:.2f} (linear: 1)")
    return "; ".join(parts) + "." if parts else ""


def render_predict_speed(data: dict, stem: str) -> str:
    lines = [
        para(machine_line(data, stem, "python -m benchmarks.predict")),
        "",
        table(["call", "seconds", "frames/s"], _predict_rows(data["results"])),
    ]
    scaling = _predict_scaling(data["results"], data.get("per_frame_ratio_128_vs_16"))
    if scaling:
        lines += ["", para(scaling)]
    if data.get("note"):
        lines += ["", para(f"({data['note']}.)")]
    return "\n".join(lines)


# --------------------------------------------------------------------------- README


@dataclass(frozen=True)
class Table:
    source: str  # the JSON's stem in benchmarks/results/
    render: Callable[[dict, str], str]
    command: str  # what writes the JSON


TABLES = {
    "headline": Table(
        "evaluation_synth_test",
        render_headline,
        "python -m benchmarks.evaluate_synth --data data/synth-seed41 --name evaluation_synth_test",
    ),
    "train-speed": Table("train_speed", render_train_speed, "python -m benchmarks.train_speed"),
    "predict-speed": Table(
        "predict", render_predict_speed, "python -m benchmarks.predict --threads 2"
    ),
}


def render_block(name: str, results: Mapping[str, dict]) -> str:
    """The text between the markers of table ``name`` (without the markers)."""
    if name not in TABLES:
        raise ValueError(f"README.md has markers for an unknown table: {name!r}")
    spec = TABLES[name]
    data = results.get(spec.source)
    if data is None:
        return para(
            f"_No figures yet: `benchmarks/results/{spec.source}.json` does not exist; "
            f"`{spec.command}` writes it, then `python -m benchmarks.readme_tables`._"
        )
    return spec.render(data, spec.source)


def render(readme_text: str, results: Mapping[str, dict]) -> str:
    """``readme_text`` with every marked table rewritten from ``results`` (JSON by stem)."""

    def replace(match: re.Match) -> str:
        name = match["name"]
        return f"<!-- table:{name} -->\n{render_block(name, results)}\n<!-- /table:{name} -->"

    return MARKER.sub(replace, readme_text)


def missing_markers(readme_text: str) -> list[str]:
    """Tables of ``TABLES`` whose marker pair is not in the text."""
    found = {m["name"] for m in MARKER.finditer(readme_text)}
    return [name for name in TABLES if name not in found]


def load_results(results_dir: Path = RESULTS_DIR) -> dict[str, dict]:
    """The JSON the tables read, by stem (those not committed are left out)."""
    stems = {spec.source for spec in TABLES.values()}
    return {
        s: json.loads(p.read_text()) for s in stems if (p := results_dir / f"{s}.json").is_file()
    }


def check(readme: Path = README, results_dir: Path = RESULTS_DIR) -> str:
    """What is stale: a unified diff of README.md against the JSON, "" when up to date."""
    text = readme.read_text()
    problems = [f"README.md lacks the markers <!-- table:{n} --> ... <!-- /table:{n} -->\n"
                for n in missing_markers(text)]  # fmt: skip
    diff = difflib.unified_diff(
        text.splitlines(keepends=True),
        render(text, load_results(results_dir)).splitlines(keepends=True),
        fromfile=f"{readme.name} (as written)",
        tofile=f"{readme.name} (from benchmarks/results/*.json)",
    )
    return "".join([*problems, *diff])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 with a diff if stale")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.check:
        stale = check(args.readme, args.results)
        if stale:
            print(stale, end="")
            print("README.md is stale: run `python -m benchmarks.readme_tables`", file=sys.stderr)
            return 1
        print("README.md tables match benchmarks/results/*.json")
        return 0
    text = args.readme.read_text()
    missing = missing_markers(text)
    if missing:
        print(f"note: no markers for {', '.join(missing)} in {args.readme}", file=sys.stderr)
    new = render(text, load_results(args.results))
    if new != text:
        args.readme.write_text(new)
    print(f"{args.readme}: {'rewritten' if new != text else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
