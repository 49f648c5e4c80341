"""README.md's generated tables agree with benchmarks/results/*.json (and the generator works).

The first test is the CI gate of `benchmarks/readme_tables.py`: it fails with the diff
when a committed JSON and README.md disagree. The rest exercise the pure `render` on a
tiny README and synthetic JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks import readme_tables as rt


def test_readme_tables_match_committed_json():
    stale = rt.check()
    assert not stale, "README.md is stale; run `python -m benchmarks.readme_tables`:\n" + stale


def _evaluation(generated: float = 0.8) -> dict:
    rows = {
        "real": {"videos": 9, "action_accuracy": 1.0, "action_accuracy_per_class": [1.0] * 3},
        "generated": {"videos": 9, "action_accuracy": generated, "fd_indomain": 14.69},
        "generated_no_action": {"videos": 9, "action_accuracy": 0.3, "fd_indomain": 23.8},
        "copy_first_frame": {"videos": 9, "action_accuracy": 0.1, "fd_indomain": 124.28},
        "pseudo_label_keypoints": {"videos": 9, "action_accuracy": 0.9, "fd_indomain": 12.0},
    }
    stage1 = {"model": {"reconstruction": {"l1": 0.0135, "psnr": 27.18, "ssim": 0.882,
                                           "pairs": 256}, "keypoint_error": 0.0469}}  # fmt: skip
    metrics = {"num_videos": 9, "samples_per_video": 1, "motion_scale": None,
               "classifier": "synth-classifier", "rows": rows, "stage1": stage1}  # fmt: skip
    return {"date": "2026-11-30T00:00:00+00:00", "data": "data/synth-seed41", "metrics": metrics}


README = """# title

> Status: words.

<!-- table:headline -->
hand-written 75.6 %
<!-- /table:headline -->

## Elsewhere

untouched 15 seconds
"""


def test_render_writes_figures_from_json_between_markers():
    out = rt.render(README, {"evaluation_synth_test": _evaluation()})
    block = out.split("<!-- table:headline -->\n")[1].split("<!-- /table:headline -->")[0]
    assert "75.6" not in block
    assert "### Headline (untouched test split, seed 41, 9 actors)" in block
    assert "| **generated (ours)** | **80.0 %** | **14.7** |" in block
    assert "| copy first frame (a still video) | 10.0 % | 124.3 |" in block
    assert "PSNR 27.2 dB" in block and "0.0469 of image size" in block
    assert out.startswith("# title\n\n> Status: words.\n\n")
    assert out.endswith("<!-- /table:headline -->\n\n## Elsewhere\n\nuntouched 15 seconds\n")


def test_render_is_idempotent_and_follows_the_json():
    results = {"evaluation_synth_test": _evaluation()}
    once = rt.render(README, results)
    assert rt.render(once, results) == once
    changed = rt.render(once, {"evaluation_synth_test": _evaluation(generated=0.5)})
    assert "**50.0 %**" in changed and "**80.0 %**" not in changed


def test_missing_json_leaves_a_note_not_figures():
    out = rt.render(README, {})
    assert "75.6" not in out
    assert "`benchmarks/results/evaluation_synth_test.json` does not exist" in out


def test_unknown_table_is_an_error():
    with pytest.raises(ValueError, match="unknown table"):
        rt.render("<!-- table:nope -->\n<!-- /table:nope -->\n", {})


def test_check_gives_a_diff_and_main_fails_when_stale(tmp_path: Path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    (results / "evaluation_synth_test.json").write_text(json.dumps(_evaluation()))
    readme = tmp_path / "README.md"
    readme.write_text(README)

    diff = rt.check(readme, results)
    assert "-hand-written 75.6 %" in diff and "+| **generated (ours)** | **80.0 %**" in diff
    assert "lacks the markers <!-- table:train-speed -->" in diff
    assert rt.main(["--check", "--readme", str(readme), "--results", str(results)]) == 1
    assert "-hand-written 75.6 %" in capsys.readouterr().out

    assert rt.main(["--readme", str(readme), "--results", str(results)]) == 0
    assert "**80.0 %**" in readme.read_text()
    assert "75.6" not in rt.check(readme, results)  # only the missing markers remain
