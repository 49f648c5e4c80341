"""Property-based: whatever a dataset's index.json holds, reading the dataset either works
on consistent records or stops with a KeyvidError — never another exception, never rows
outside the split's frames."""

from __future__ import annotations

import json
import shutil

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyvid.data.format import PreparedDataset
from keyvid.errors import KeyvidError
from tests.conftest import write_dot_dataset

ints = st.one_of(st.integers(-5, 40), st.just(10**12), st.booleans(), st.floats(0, 5), st.text())
records = st.lists(
    st.fixed_dictionaries(
        {"id": st.one_of(st.text(max_size=5), st.integers()), "action": ints},
        optional={"num_frames": ints, "offset": ints, "extra": ints},
    ),
    max_size=5,
)
index_files = st.one_of(
    records.map(json.dumps),
    st.text(max_size=30),  # not JSON at all
    st.sampled_from(["{}", "3", "null", '"x"', "[1, 2]"]),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=index_files)
def test_any_index_is_read_consistently_or_refused(tmp_path_factory, text):
    root = tmp_path_factory.mktemp("idx") / "dots"
    write_dot_dataset(root, train=2, test=1, frames=4, size=8)
    (root / "train" / "index.json").write_text(text)
    try:
        data = PreparedDataset(root, "train")
    except KeyvidError:
        return
    total = len(data.all_frames)
    covered = 0
    for i, video in enumerate(data.videos):
        frames = data.frames(i)
        assert len(frames) == video.num_frames >= 1  # whole rows, inside the file
        assert video.offset == covered
        covered += video.num_frames
        assert 0 <= video.action < len(data.actions)
    assert covered == total
    shutil.rmtree(root.parent)


def test_the_written_index_reads_back():
    # The property above mostly sees corrupt indexes; the valid case is the writer's.
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        root = write_dot_dataset(Path(tmp) / "dots", train=3, test=1, frames=4, size=8)
        data = PreparedDataset(root, "train")
        assert [v.offset for v in data.videos] == list(np.cumsum([0, 4, 5])[:3])
