"""Measure a motion generator's travel factors on a dataset and write a calibrated copy.

Training with ``model.generator.calibrate_travel: true`` does this at every
checkpoint; ``keyvid calibrate`` does it for a model trained without it (or
against another dataset's pseudo-labels). See ``MotionGeneratorConfig.calibrate_travel``.
"""

from __future__ import annotations

import copy
from pathlib import Path

from keyvid.checkpoint import read_meta, write_model_folder
from keyvid.data.format import PreparedDataset
from keyvid.errors import KeyvidError
from keyvid.metrics.motion import start_sequences, travel_scales
from keyvid.models.load import PIPELINE, load_motion


def calibrate_motion(
    checkpoint: str | Path,
    data: str | Path,
    dest: str | Path,
    *,
    keypoints: str | None = None,
    samples: int = 4,
    seed: int = 0,
) -> tuple[Path, dict[str, float]]:
    """Write ``checkpoint`` (stage 2 or pipeline) to ``dest`` with its ``travel_scale``
    measured on ``data``'s training split and its ``keypoints`` pseudo-labels (default:
    the set the model was trained on). Returns the folder and {action: factor}."""
    generator, ckpt, raw = load_motion(checkpoint)
    name = keypoints if keypoints is not None else raw["data"]["keypoints"]
    train = PreparedDataset(data, "train")
    actions = tuple(raw["model"]["actions"])
    if generator.config.action and tuple(train.actions) != actions:
        raise KeyvidError(
            f"{train.root} has the actions {', '.join(train.actions)} but the model was "
            f"trained on {', '.join(actions)}; calibrate on the model's own dataset"
        )
    sequences = start_sequences(train, name, generator.config.length + 1)  # k0 + future
    scales = travel_scales(generator, sequences, samples=samples, seed=seed)
    weights = dict(ckpt.weights)
    weights["motion_generator.travel_scale"] = scales
    config = copy.deepcopy(ckpt.config)
    stage2 = config["stage2"] if ckpt.kind == PIPELINE else config
    stage2["model"]["generator"]["calibrate_travel"] = True
    dest = write_model_folder(
        Path(dest),
        weights=weights,
        config=config,
        kind=ckpt.kind,
        step=ckpt.step,
        source=f"{read_meta(ckpt.path).get('source', ckpt.path)}; travel calibrated on "
        f"{train.root} ({name} pseudo-labels)",
    )
    labels = actions if generator.config.action else ("all",)
    return dest, dict(zip(labels, (round(float(s), 4) for s in scales), strict=True))
