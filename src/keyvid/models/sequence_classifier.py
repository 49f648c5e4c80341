"""A keypoint-sequence action classifier: the recognition model of the motion metrics.

The action-to-motion protocol of ACTOR (Petrovich et al., ICCV 2021) and MDM (Tevet et
al., ICLR 2023), after Action2Motion (Guo et al., 2020): a recurrent action classifier
trained on the real training motions reads real and generated motions alike; its
accuracy on generated motions says whether they show their action, and its penultimate
features give a Fréchet distance (FID), diversity and multimodality
(``keyvid.metrics.motion_recognition``). Their recogniser is a 2-layer GRU over joint
rotations whose last hidden state goes through a small tanh layer (the features) to the
logits; here the same shape of network reads Q's keypoints.

Each frame is given to the GRU as its keypoints' displacement from the first frame
(how the object moves, scaled to unit size by ``displacement_scale``, measured on the
training sequences) beside the first pose itself (where it is and what shape it has):
generated sequences start from the detected first pose, so the motion is what differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class SequenceClassifierConfig:
    num_keypoints: int
    num_actions: int
    hidden: int = 64  # GRU width (Action2Motion's recogniser: 128, for 24 joints' rotations)
    layers: int = 2  # GRU layers, as ACTOR's / Action2Motion's
    features: int = 32  # penultimate features: the FID's space (Action2Motion: 30)


class SequenceClassifier(nn.Module):
    """(B, T, K, 2) keypoint sequences in [-1, 1] -> (B, A) logits and (B, F) features."""

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__()
        self.config = config
        # 1 / RMS displacement from the first frame on the training data (set when fitted):
        # displacements are a few hundredths of the image, the first pose spans [-1, 1].
        self.register_buffer("displacement_scale", torch.ones(()))
        inputs = 4 * config.num_keypoints  # (k_t - k_0, k_0), each K × 2
        self.gru = nn.GRU(inputs, config.hidden, num_layers=config.layers, batch_first=True)
        self.to_features = nn.Sequential(nn.Linear(config.hidden, config.features), nn.Tanh())
        self.head = nn.Linear(config.features, config.num_actions)

    def inputs(self, sequences: torch.Tensor) -> torch.Tensor:
        """(B, T, K, 2) keypoints -> (B, T, 4K) per-frame inputs (displacement, first pose)."""
        first = sequences[:, :1]  # (B, 1, K, 2)
        moved = (sequences - first) * self.displacement_scale  # (B, T, K, 2)
        pose = first.expand_as(sequences)  # (B, T, K, 2)
        return torch.cat([moved.flatten(2), pose.flatten(2)], dim=2)  # (B, T, 2K + 2K)

    def features(self, sequences: torch.Tensor) -> torch.Tensor:
        """(B, T, K, 2) keypoint sequences -> (B, features) penultimate features."""
        _, hidden = self.gru(self.inputs(sequences))  # hidden: (layers, B, hidden)
        return self.to_features(hidden[-1])  # last layer's final state (B, hidden) -> (B, F)

    def forward(self, sequences: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, K, 2) -> logits (B, num_actions) and features (B, features)."""
        feats = self.features(sequences)
        return self.head(feats), feats
