"""Pseudo-labels for stage 2: the stage-1 detector's keypoints on every frame of a dataset.

They are stored with the dataset, one array per split and name::

    ROOT/<split>/keypoints/NAME.npy    (N, K, 2) float32, rows in frame storage order
    ROOT/<split>/keypoints/NAME.json   which checkpoint made them, K, image size

Extraction is resumable: rows go into ``.NAME.partial.npy`` (a memory map) and
the count done into ``.NAME.partial.json`` after every chunk; a rerun with the
same checkpoint continues there, and the finished array is renamed into place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from keyvid.data.format import PreparedDataset
from keyvid.errors import KeyvidError
from keyvid.evaluation.keypoints import detect_rows
from keyvid.models.detector import KeypointDetector

CHUNK_ROWS = 2048  # frames between progress saves: a few seconds of work on a CPU


def extract_keypoints(
    detector: KeypointDetector,
    data_root: str | Path,
    *,
    name: str,
    source: dict,
    splits: tuple[str, ...] | None = None,
    batch_size: int = 128,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Path]:
    """Detect keypoints on every frame of each split; returns ``{split: NAME.npy path}``.

    ``source`` identifies the detector (checkpoint path, step): a partial
    extraction is resumed only with the same one, and a finished one with the
    same source is kept as is (pass ``overwrite`` to redo it).
    """
    if not name or "/" in name or name.startswith("."):
        raise KeyvidError(f"pseudo-label name {name!r} must be a plain file name, e.g. stage1")
    root = Path(data_root)
    first = PreparedDataset(root, "train" if splits is None else splits[0])
    splits = splits or tuple(first.meta["splits"])
    meta = {
        **source,
        "num_keypoints": detector.config.num_keypoints,
        "image_size": detector.config.image_size,
    }
    done = {}
    for split in splits:
        data = PreparedDataset(root, split)
        done[split] = _extract_split(detector, data, name, meta, batch_size, overwrite, progress)
    return done


def _extract_split(detector, data, name, meta, batch_size, overwrite, progress) -> Path:
    folder = data.root / data.split / "keypoints"
    final, info = folder / f"{name}.npy", folder / f"{name}.json"
    if final.exists() and not overwrite:
        if info.exists() and json.loads(info.read_text()) == meta:
            print(f"{final}: already extracted with this checkpoint, kept")
            return final
        raise KeyvidError(
            f"{final} exists from another checkpoint; pass --overwrite or choose another --name"
        )
    folder.mkdir(parents=True, exist_ok=True)
    partial, state = folder / f".{name}.partial.npy", folder / f".{name}.partial.json"
    total = sum(v.num_frames for v in data.videos)
    shape = (total, detector.config.num_keypoints, 2)
    start = 0
    if partial.exists() and state.exists():
        saved = json.loads(state.read_text())
        if saved.get("meta") == meta and tuple(saved.get("shape", ())) == shape:
            start = int(saved["done"])
    if start == 0:
        out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=shape)
    else:
        out = np.lib.format.open_memmap(partial, mode="r+")
    bar = tqdm(
        total=total,
        initial=start,
        desc=f"keypoints {data.split}",
        unit="frame",
        disable=not progress,
        dynamic_ncols=True,
    )
    for lo in range(start, total, CHUNK_ROWS):
        rows = np.arange(lo, min(lo + CHUNK_ROWS, total))
        out[rows] = detect_rows(detector, data, rows, batch_size=batch_size)
        out.flush()
        _write_json(state, {"meta": meta, "shape": list(shape), "done": int(rows[-1] + 1)})
        bar.update(len(rows))
    bar.close()
    del out
    _write_json(info, meta)
    os.replace(partial, final)
    state.unlink(missing_ok=True)
    return final


def _write_json(path: Path, value: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)
