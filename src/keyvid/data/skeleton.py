"""The 13-joint skeleton of Penn Action, used by the synthetic actors and for evaluation."""

from __future__ import annotations

# Penn Action's joint order (labels/*.mat fields x, y are in this order).
JOINT_NAMES: tuple[str, ...] = (
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
NUM_JOINTS = len(JOINT_NAMES)
J = {name: i for i, name in enumerate(JOINT_NAMES)}

# Pairs of joint indices drawn as lines in previews.
BONES: tuple[tuple[int, int], ...] = (
    (J["head"], J["left_shoulder"]),
    (J["head"], J["right_shoulder"]),
    (J["left_shoulder"], J["right_shoulder"]),
    (J["left_shoulder"], J["left_elbow"]),
    (J["left_elbow"], J["left_wrist"]),
    (J["right_shoulder"], J["right_elbow"]),
    (J["right_elbow"], J["right_wrist"]),
    (J["left_shoulder"], J["left_hip"]),
    (J["right_shoulder"], J["right_hip"]),
    (J["left_hip"], J["right_hip"]),
    (J["left_hip"], J["left_knee"]),
    (J["left_knee"], J["left_ankle"]),
    (J["right_hip"], J["right_knee"]),
    (J["right_knee"], J["right_ankle"]),
)
