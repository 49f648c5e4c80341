"""Metrics: functions of tensors and datasets that trainers, the pipeline and reports all use
(keypoint regression error, motion statistics and travel, action accuracy, reconstruction,
Fréchet distances, I3D features for FVD). Nothing here loads a pipeline or writes a report."""
