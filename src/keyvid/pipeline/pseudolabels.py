"""Pseudo-labels for stage 2: the stage-1 detector's keypoints on every frame of a dataset.

They are stored with the dataset, one array per split and name::

    ROOT/<split>/keypoints/NAME.npy    (N, K, 2) float32, rows in frame storage order
    ROOT/<split>/keypoints/NAME.json   which checkpoint made them, K, image size

Extraction is resumable: rows go into ``.NAME.partial.npy`` (a memory map), what
it is for into ``.NAME.partial.json``, and one marker file per finished chunk of
rows into ``.NAME.partial.done/``; a rerun with the same checkpoint skips the
finished chunks, and the complete array is renamed into place.

Under ``torchrun`` the chunks are shared out: rank ``r`` of ``N`` does chunks
``r, r + N, ...`` into the same memory map (disjoint rows), and rank 0 renames the
result once every rank is done.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from keyvid.data.format import PreparedDataset
from keyvid.distributed import World, barrier
from keyvid.errors import KeyvidError
from keyvid.metrics.keypoints import detect_rows
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
    chunk_rows: int | None = None,
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
        chunk = chunk_rows or CHUNK_ROWS
        done[split] = _extract_split(
            detector, data, name, meta, batch_size, chunk, overwrite, progress
        )
    return done


def _extract_split(detector, data, name, meta, batch_size, chunk, overwrite, progress) -> Path:
    world = World.from_environment()
    folder = data.root / data.split / "keypoints"
    final, info = folder / f"{name}.npy", folder / f"{name}.json"
    if final.exists() and not overwrite:
        if info.exists() and json.loads(info.read_text()) == meta:
            if world.is_main:
                print(f"{final}: already extracted with this checkpoint, kept")
            return final
        raise KeyvidError(
            f"{final} exists from another checkpoint; pass --overwrite or choose another --name"
        )
    partial, state = folder / f".{name}.partial.npy", folder / f".{name}.partial.json"
    markers = folder / f".{name}.partial.done"
    total = sum(v.num_frames for v in data.videos)
    shape = (total, detector.config.num_keypoints, 2)
    if world.is_main:
        _start_partial(partial, state, markers, meta, shape)
    barrier(world)
    out = np.lib.format.open_memmap(partial, mode="r+")
    chunks = range(0, total, chunk)
    mine = [lo for i, lo in enumerate(chunks) if i % world.size == world.rank]
    todo = [lo for lo in mine if not (markers / f"{lo:012d}").exists()]
    bar = tqdm(
        total=sum(min(chunk, total - lo) for lo in mine),
        initial=sum(min(chunk, total - lo) for lo in mine if lo not in todo),
        desc=f"keypoints {data.split}",
        unit="frame",
        disable=not progress or not world.is_main,
        dynamic_ncols=True,
    )
    for lo in todo:
        rows = np.arange(lo, min(lo + chunk, total))
        out[rows] = detect_rows(detector, data, rows, batch_size=batch_size)
        out.flush()
        (markers / f"{lo:012d}").touch()  # after the flush: a marker means rows on disk
        bar.update(len(rows))
    bar.close()
    del out
    barrier(world)
    if world.is_main:
        missing = [lo for lo in chunks if not (markers / f"{lo:012d}").exists()]
        if missing:
            raise KeyvidError(f"{len(missing)} chunks of {partial} were not written; rerun")
        _write_json(info, meta)
        os.replace(partial, final)
        state.unlink(missing_ok=True)
        shutil.rmtree(markers, ignore_errors=True)
    barrier(world)
    return final


def _start_partial(partial: Path, state: Path, markers: Path, meta: dict, shape: tuple) -> None:
    """Keep a partial extraction made with the same detector and shape; else start one."""
    if partial.exists() and state.exists() and markers.is_dir():
        saved = json.loads(state.read_text())
        if saved.get("meta") == meta and tuple(saved.get("shape", ())) == shape:
            return
    partial.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(markers, ignore_errors=True)
    np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=shape).flush()
    markers.mkdir()
    _write_json(state, {"meta": meta, "shape": list(shape)})


def _write_json(path: Path, value: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)
