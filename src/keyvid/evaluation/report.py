"""Evaluation entry points that load checkpoints (the CLI calls these)."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from keyvid.checkpoint import PRETRAINED_DIR
from keyvid.data.format import PreparedDataset
from keyvid.distributed import World, join, leave
from keyvid.errors import KeyvidError
from keyvid.evaluation.generation import (
    ROWS,
    SAMPLED_ROWS,
    InDomainClassifier,
    RowStats,
    collect_rows,
    window_keypoints,
)
from keyvid.evaluation.report_files import write_report
from keyvid.metrics.actions import accuracy, per_class_accuracy
from keyvid.metrics.frechet import frechet_distance_between, frechet_distance_of_moments
from keyvid.metrics.keypoints import keypoint_regression_error
from keyvid.metrics.motion_recognition import (
    DIVERSITY_PAIRS,
    MULTIMODALITY_PAIRS,
    classify_sequences,
    fit_sequence_classifier,
    motion_recognition_metrics,
)
from keyvid.metrics.reconstruction import reconstruction_metrics
from keyvid.models.detector import KeypointDetector
from keyvid.models.load import load_classifier, load_stage1
from keyvid.pipeline.generate import Pipeline


def evaluate_keypoints(
    checkpoint: str | Path, data: str | Path, *, max_train_frames: int | None = 8000
) -> dict:
    """IMM-protocol keypoint error of a stage-1 checkpoint, beside an untrained detector's."""
    model, ckpt = load_stage1(checkpoint)
    train, test = PreparedDataset(data, "train"), PreparedDataset(data, "test")
    result = keypoint_regression_error(
        model.detector, train, test, max_train_frames=max_train_frames, progress=True
    )
    torch.manual_seed(0)
    untrained = KeypointDetector(model.detector.config)
    reference = keypoint_regression_error(untrained, train, test, max_train_frames=max_train_frames)
    return {
        "checkpoint": str(checkpoint),
        "step": ckpt.step,
        "data": str(data),
        "test_error": result["test_error"],
        "untrained_test_error": reference["test_error"],
        "ratio_to_untrained": result["test_error"] / reference["test_error"],
        "train_error": result["train_error"],
        "per_joint": result["per_joint"],
        "train_frames": result["train_frames"],
        "test_frames": result["test_frames"],
    }


def shipped_companion(name: str | Path, suffix: str) -> str | None:
    """``<name>-<suffix>`` when ``name`` is a shipped model and that companion is shipped too
    (``synth-no-action``, ``synth-classifier``)."""
    candidate = f"{name}-{suffix}"
    if "/" in str(name) or not (PRETRAINED_DIR / candidate / "meta.json").exists():
        return None
    return candidate


def evaluate_model(
    checkpoint: str | Path,
    data: str | Path,
    out_dir: str | Path,
    *,
    split: str = "test",
    samples_per_video: int = 1,
    classifier: str | Path | None = None,
    no_action: str | Path | None = None,
    i3d_weights: str | Path | None = None,
    stage1_ablations: dict[str, str] | None = None,
    seed: int = 0,
    motion_scale: float | None = None,
    guidance: float | None = None,
    max_videos: int | None = None,
    max_train_frames: int = 8000,
    max_train_videos: int | None = 512,
    progress: bool = True,
) -> dict:
    """Every metric of issue 6 for a pipeline on ``data``'s ``split``; writes ``out_dir``.

    Omitted companions are found by name when shipped: the w/o-action model
    ``<checkpoint>-no-action`` and the classifier ``<dataset name>-classifier``.
    What cannot be computed is listed in ``skipped`` (and the report says it is partial).
    The motion metrics' keypoint-sequence classifier is trained on Q's keypoints of at
    most ``max_train_videos`` training videos (None: all; 0: no motion metrics).
    Under torchrun the videos are shared out among the processes; rank 0 writes the
    report and returns the result, the others return an empty dict.
    """
    start = time.time()
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise KeyvidError(f"--out {out_dir} is a file; give a folder")
    if not 1 <= samples_per_video <= 64:
        raise KeyvidError(f"samples per video must be 1 to 64, got {samples_per_video}")
    if max_train_videos is not None and max_train_videos < 0:
        raise KeyvidError(f"max_train_videos must be 0 or more, got {max_train_videos}")
    test = PreparedDataset(data, split)
    if not test.videos:
        raise KeyvidError(f"{test.root} has no videos in its {split!r} split")
    pipe = Pipeline.from_pretrained(checkpoint)
    if pipe.motion is None:
        raise KeyvidError(f"{checkpoint} is a stage-1 checkpoint; evaluate a stage-2 or pipeline")
    _check_classes("the model", pipe.actions, test, required=pipe.uses_action)
    pipe.check_guidance(guidance)
    skipped: dict[str, str] = {}
    warnings: list[str] = []  # figures computed but to be read with care

    length = pipe.motion.config.length + 1  # k0 and the future stage 2 was trained on
    no_action = no_action if no_action is not None else shipped_companion(checkpoint, "no-action")
    no_action_pipe = _no_action_pipeline(pipe, no_action, skipped, warnings)
    name = test.meta.get("name", "")
    classifier = classifier if classifier is not None else shipped_companion(name, "classifier")
    classify_fn = _classifier_fn(classifier, test, skipped)
    i3d_fn = _i3d_fn(i3d_weights, length, skipped)

    # Under torchrun the test videos are shared out; rank 0 computes the rest and writes.
    world = World.from_environment()
    join(world, torch.device("cpu"))
    t_gen = time.time()
    stats, examples = collect_rows(
        test,
        pipe=pipe,
        no_action=no_action_pipe,
        classifier=classify_fn,
        i3d=i3d_fn,
        length=length,
        samples=samples_per_video,
        seed=seed,
        motion_scale=motion_scale,
        guidance=guidance,
        max_videos=max_videos,
        progress=progress,
        world=world,
    )
    seconds_videos = time.time() - t_gen
    if not world.is_main:
        leave(world)
        return {}
    num_videos = stats["real"].videos
    rows = {row: _row_metrics(row, stats, num_videos, samples_per_video, skipped) for row in stats}
    warnings += _sample_size_warnings(stats)
    t_motion = time.time()
    motion, motion_classifier = _motion_metrics(
        pipe, data, test, stats, length, max_train_videos, skipped, warnings
    )
    seconds_motion = time.time() - t_motion
    stage1 = _stage1_metrics(
        pipe, checkpoint, data, test, stage1_ablations or {}, max_train_frames, skipped
    )
    result = {
        "checkpoint": str(checkpoint),
        "data": str(data),
        "split": split,
        "num_videos": num_videos,
        "samples_per_video": samples_per_video,
        "frames_per_video": length,
        "seed": seed,
        "motion_scale": motion_scale,  # None: each model's own measured travel factors
        "motion_generator": pipe.motion.config.kind,
        # None: the model's default (diffusion), or no guidance (cVAE)
        "guidance": guidance,
        "classifier": str(classifier) if classifier is not None else None,
        "no_action_model": str(no_action) if no_action_pipe is not None else None,
        "i3d_weights": str(i3d_weights) if i3d_weights is not None else None,
        **_headline(rows),
        "rows": rows,
        "motion_recognition": motion,
        "motion_classifier": motion_classifier,
        "stage1": stage1,
        "skipped": skipped,
        "warnings": warnings,
        "complete": not skipped,
        "seconds_videos": round(seconds_videos, 1),
        "seconds_motion_classifier": round(seconds_motion, 1),
        "seconds": round(time.time() - start, 1),
    }
    if "fvd" in skipped:
        result["fvd"] = None
        result["fvd_skipped_reason"] = skipped["fvd"]
    write_report(result, examples, out_dir, actions=test.actions)
    leave(world)
    return result


def _no_action_pipeline(
    pipe: Pipeline, no_action: str | Path | None, skipped: dict, warnings: list
) -> Pipeline | None:
    """The "w/o a" model, when the model has an action condition and one is given."""
    if not pipe.uses_action:
        warnings.append("the model has no action condition: there is no w/o-action row")
        return None
    if no_action is None:
        skipped["generated_no_action"] = "no w/o-action model given (--no-action CKPT)"
        return None
    ablation = Pipeline.from_pretrained(no_action)
    if ablation.uses_action:
        raise KeyvidError(f"--no-action {no_action} is conditioned on the action")
    return ablation


def _classifier_fn(
    classifier: str | Path | None, test: PreparedDataset, skipped: dict
) -> InDomainClassifier | None:
    """The in-domain classifier's readings of videos and frames, if there is one."""
    if classifier is None:
        skipped["action_accuracy"] = skipped["fd_indomain"] = skipped["fd_frames"] = (
            f"no classifier: train one (keyvid train classifier --data {test.root}) "
            "and pass --classifier"
        )
        return None
    net, _ = load_classifier(classifier)
    _check_classes(f"the classifier {classifier}", tuple(net.config.actions), test)
    return InDomainClassifier.of(net)


def _i3d_fn(weights: str | Path | None, length: int, skipped: dict):
    """(n, T, 3, H, W) videos -> I3D logits, when weights are given and videos long enough."""
    if weights is None:
        skipped["fvd"] = "no I3D weights given (--i3d-weights FILE)"
        return None
    from keyvid.metrics.fvd import FVD_MIN_FRAMES, i3d_features, load_i3d

    i3d = load_i3d(weights)  # a bad file is an error even when FVD cannot run
    if length < FVD_MIN_FRAMES:
        skipped["fvd"] = (
            f"FVD needs videos of at least {FVD_MIN_FRAMES} frames; this model makes {length}"
        )
        return None

    def i3d_fn(videos: torch.Tensor) -> torch.Tensor:
        return i3d_features(i3d, videos)

    return i3d_fn


def _check_classes(
    what: str, actions: tuple[str, ...], data: PreparedDataset, *, required: bool = True
) -> None:
    if required and tuple(actions) != tuple(data.actions):
        raise KeyvidError(
            f"{what} was trained for the classes ({', '.join(actions)}) but {data.root} has "
            f"({', '.join(data.actions)}); evaluate on the data it was trained for"
        )


MOTION_ROWS = ("pseudo_label_keypoints", "generated", "generated_no_action")  # with keypoints
MOTION_REFERENCE = "pseudo_label_keypoints"  # Q's keypoints on the real test windows
MOTION_CLASSIFIER_STEPS = 300
MOTION_SEED = 0  # the yardstick and its pair draws do not change with the sampling seed


def _motion_metrics(
    pipe: Pipeline,
    data: str | Path,
    test: PreparedDataset,
    stats: dict[str, RowStats],
    length: int,
    max_train_videos: int | None,
    skipped: dict,
    warnings: list,
) -> tuple[dict, dict | None]:
    """The ACTOR/MDM motion metrics of the rows with keypoint sequences: a keypoint-sequence
    classifier trained on Q's keypoints of the training windows, read on each row's
    sequences ({row: metrics}, and what the classifier was trained on)."""
    reason = None
    if not test.actions:
        reason = "the data has no actions to recognise"
    elif "train" not in test.meta["splits"]:
        reason = "the data has no train split to train the keypoint-sequence classifier on"
    elif max_train_videos == 0:
        reason = "turned off (max_train_videos=0)"
    elif stats.get(MOTION_REFERENCE) is None or stats[MOTION_REFERENCE].sequences() is None:
        reason = "no pseudo-label keypoint sequences to compare with"
    if reason is not None:
        skipped["motion_recognition"] = reason
        return {}, None
    train = PreparedDataset(data, "train")
    train_sequences, train_labels = window_keypoints(
        train,
        pipe.stage1.detector,
        length=length,
        image_size=pipe.image_size,
        max_videos=max_train_videos,
    )
    if not len(train_sequences):
        skipped["motion_recognition"] = f"{train.root} has no training videos"
        return {}, None
    classifier = fit_sequence_classifier(
        train_sequences,
        train_labels,
        len(test.actions),
        steps=MOTION_CLASSIFIER_STEPS,
        seed=MOTION_SEED,
    )
    rows = {row: stats[row].sequences() for row in MOTION_ROWS if row in stats}
    rows = {row: r for row, r in rows.items() if r is not None}
    motion = motion_recognition_metrics(
        classifier, rows, MOTION_REFERENCE, train=(train_sequences, train_labels), seed=MOTION_SEED
    )
    needs = {
        "fid": "the motion FID needs at least 2 sequences per side",
        "diversity": "diversity needs at least 2 sequences",
        "multimodality": "multimodality needs an action with at least 2 sequences",
    }
    # A figure the set is too small for is left out with a warning, as a small-sample
    # caveat: the section itself was computed, so the report is not partial for it.
    for row, metrics in motion.items():
        for name, why in needs.items():
            if name not in metrics and not (name == "fid" and row == MOTION_REFERENCE):
                warnings.append(f"motion {name} of {row} left out: {why}")
    fewest = min(m["sequences"] for m in motion.values())
    dims = classifier.config.features
    if fewest <= dims:
        warnings.append(_few_samples_warning("motion FID", fewest, "sequences", dims))
    train_logits, _ = classify_sequences(classifier, train_sequences)
    about = {
        "train_videos": len(train_sequences),
        "train_accuracy": accuracy(train_logits, train_labels),
        "steps": MOTION_CLASSIFIER_STEPS,
        "features": dims,
        "diversity_pairs": DIVERSITY_PAIRS,
        "multimodality_pairs": MULTIMODALITY_PAIRS,
    }
    return motion, about


def _row_metrics(
    row: str, stats: dict[str, RowStats], num_videos: int, samples: int, skipped: dict
) -> dict:
    """Accuracy, in-domain FD, FVD and per-frame FD against the real row, sharpness
    relative to the real row, keypoint metrics of a row."""
    s, real = stats[row], stats["real"]
    out: dict[str, float | int | list] = {"videos": s.videos, **_sharpness_metrics(s, real)}
    logits = s.cat("logits")
    if logits is not None:
        labels = torch.tensor(s.labels)
        out["action_accuracy"] = accuracy(logits, labels)
        out["action_accuracy_per_class"] = per_class_accuracy(logits, labels, logits.shape[1])
    for key, name, label in (("features", "fd_indomain", "in-domain FD"), ("i3d", "fvd", "FVD")):
        feats = s.cat(key)
        if feats is None or row == "real":
            continue
        reference = real.cat(key)
        if min(len(feats), len(reference)) < 2:
            skipped[f"{name}:{row}"] = f"{label} needs at least 2 videos per side"
            continue
        out[name] = frechet_distance_between(reference, feats)
    if s.frame_features.count and row != "real":
        if min(s.frame_features.count, real.frame_features.count) < 2:
            skipped[f"fd_frames:{row}"] = "the per-frame FD needs at least 2 frames per side"
        else:
            out["fd_frames"] = frechet_distance_of_moments(real.frame_features, s.frame_features)
    if row in SAMPLED_ROWS:
        # Best-of-N and diversity compare samples: they mean nothing with one.
        between_samples = ("l1_best", "diversity") if samples < 2 else ()
        for k, v in s.keypoint_sums.items():
            if k not in between_samples:
                out[f"keypoint_{k}"] = v / num_videos
    return out


def _sharpness_metrics(s: RowStats, real: RowStats) -> dict:
    """A row's actor-region gradient energy over frames 1..L-1 divided by the real frames'
    (1 = as sharp as the real videos): overall (ratio of the means) and per frame index."""
    mine, reference = s.cat("sharpness"), real.cat("sharpness")  # (n, L-1), (N, L-1)
    overall = _ratio(float(mine.mean()), float(reference.mean()))
    if overall is None:
        return {}
    per_frame = zip(mine.mean(0).tolist(), reference.mean(0).tolist(), strict=True)
    return {
        "sharpness_relative": overall,
        "sharpness_relative_per_frame": [_ratio(a, b) for a, b in per_frame],
    }


def _ratio(a: float, b: float) -> float | None:
    """a / b, or None when the reference b is 0 (flat real frames have no sharpness)."""
    return a / b if b > 0 else None


# The flat keys of metrics.json the issue names, per row: action_accuracy<suffix>,
# fd_indomain<fd suffix>, fvd<fd suffix>, fd_frames<fd suffix>, sharpness_relative<fd
# suffix> (the generated row's are plain "fd_indomain", ...; the real row has none but
# accuracy: its FDs do not exist and its relative sharpness is 1 by definition).
ACCURACY_SUFFIX = {row: f"_{row}" for row in ROWS}
FD_SUFFIX = {
    "generated": "",
    "generated_no_action": "_no_action",
    "copy_first_frame": "_copy_first_frame",
    "pseudo_label_keypoints": "_pseudo_label_keypoints",
}


def _headline(rows: dict) -> dict:
    out = {}
    for row, metrics in rows.items():
        if "action_accuracy" in metrics:
            out[f"action_accuracy{ACCURACY_SUFFIX[row]}"] = metrics["action_accuracy"]
        for name in ("fd_indomain", "fvd", "fd_frames", "sharpness_relative"):
            if name in metrics and row in FD_SUFFIX:
                out[f"{name}{FD_SUFFIX[row]}"] = metrics[name]
    return out


def _sample_size_warnings(stats: dict[str, RowStats]) -> list[str]:
    """A Fréchet distance from fewer videos (frames) than feature dimensions is biased."""
    warnings = []
    real = stats["real"]
    for key, label in (("features", "in-domain FD"), ("i3d", "FVD")):
        feats = real.cat(key)
        if feats is None:
            continue
        fewest = min(s.videos for s in stats.values())
        if key == "i3d":
            from keyvid.metrics.fvd import fvd_warning

            if (text := fvd_warning(real.videos, fewest)) is not None:
                warnings.append(text)
        elif fewest <= feats.shape[1]:
            warnings.append(_few_samples_warning(label, fewest, "videos", feats.shape[1]))
    if real.frame_features.count:
        fewest = min(s.frame_features.count for s in stats.values())
        dims = len(real.frame_features.total)
        if fewest <= dims:
            warnings.append(_few_samples_warning("per-frame FD", fewest, "frames", dims))
    return warnings


def _few_samples_warning(label: str, fewest: int, unit: str, dims: int) -> str:
    return (
        f"{label} from as few as {fewest} {unit} per side, not more than its {dims} "
        "feature dimensions: biased upwards; compare rows of one report, not figures "
        "across sample sizes"
    )


def _stage1_metrics(
    pipe: Pipeline,
    checkpoint: str | Path,
    data: str | Path,
    test: PreparedDataset,
    ablations: dict[str, str],
    max_train_frames: int,
    skipped: dict,
) -> dict:
    """Reconstruction (and keypoint error with joints) of the model's stage 1 and ablations."""
    models = {"model": (pipe.stage1, checkpoint)}
    for label, path in ablations.items():
        models[label] = (load_stage1(path)[0], path)
    train = None  # the regression to ground-truth joints is fitted on the train split
    if test.has_joints and "train" in test.meta["splits"]:
        train = PreparedDataset(data, "train")
    else:
        skipped["keypoint_error"] = "the data has no ground-truth joints (or no train split)"
    out = {}
    for label, (model, path) in models.items():
        scores = reconstruction_metrics(model, test)
        entry = {"checkpoint": str(path), "reconstruction": scores["stage1"]}
        if label == "model":
            entry["reconstruction_copy_reference"] = scores["copy_reference"]
        if train is not None:
            err = keypoint_regression_error(
                model.detector, train, test, max_train_frames=max_train_frames
            )
            entry["keypoint_error"] = err["test_error"]
        out[label] = entry
    return out
