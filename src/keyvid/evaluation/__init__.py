"""Evaluation reports: generate videos with a pipeline for every test video, measure them
with ``keyvid.metrics`` beside the real videos and baselines, write ``report.md`` and
``metrics.json`` (``keyvid evaluate``)."""

from keyvid.evaluation.report import evaluate_keypoints, evaluate_model

__all__ = ["evaluate_keypoints", "evaluate_model"]
