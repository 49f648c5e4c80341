"""Motion metrics of the action-to-motion protocol, on keypoint sequences (issue 23).

ACTOR (Petrovich et al., ICCV 2021) and MDM (Tevet et al., ICLR 2023) score generated
motions with a recognition network trained on the real training motions
(``keyvid.models.sequence_classifier``) and read its penultimate features:

- ``accuracy``: the fraction of a set's sequences the classifier gives their action;
- ``fid``: the Fréchet distance between the set's features and a reference set's (the
  report's: Q's keypoints on the real test windows); ``fid_train``: the same against
  the training sequences' features (ACTOR's FID_train), which gives the real row too a
  figure, the gap between two samples of real motion;
- ``diversity``: the mean Euclidean distance between the features of S_d = 200 random
  pairs of sequences over the whole set, whatever their action;
- ``multimodality``: the mean distance between S_l = 20 random pairs of sequences of
  the same action, averaged over the actions: how varied one action's motions are.

Here the pairs are distinct sequences (i ≠ j, each unordered pair at most once; ACTOR's
code draws with replacement and can pair a sequence with itself, which matters only in
small sets), drawn from a generator with a fixed seed, so the figures are reproducible.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from keyvid.errors import KeyvidError
from keyvid.metrics.frechet import frechet_distance_between
from keyvid.models.sequence_classifier import SequenceClassifier, SequenceClassifierConfig

DIVERSITY_PAIRS = 200  # ACTOR's S_d
MULTIMODALITY_PAIRS = 20  # ACTOR's S_l, per action

Sequences = torch.Tensor | np.ndarray  # (N, T, K, 2) keypoints in [-1, 1]
Labels = torch.Tensor | np.ndarray | list[int]  # (N,) action indices


def fit_sequence_classifier(
    sequences: Sequences,
    labels: Labels,
    num_actions: int,
    *,
    steps: int = 300,
    seed: int = 0,
    batch_size: int = 64,
    lr: float = 3e-3,
) -> SequenceClassifier:
    """Train a ``SequenceClassifier`` on (N, T, K, 2) sequences and their actions.

    On the CPU, from a fixed seed (its own random generators: the global ones are left
    as they were), so the same data gives the same classifier. Returned in eval mode.
    """
    x = torch.as_tensor(np.asarray(sequences), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if x.ndim != 4 or x.shape[-1] != 2 or len(x) != len(y) or len(x) == 0:
        raise KeyvidError(
            f"need (N, T, K, 2) sequences and N labels, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if int(y.min()) < 0 or int(y.max()) >= num_actions:
        raise KeyvidError(f"action labels must be 0..{num_actions - 1}")
    config = SequenceClassifierConfig(num_keypoints=x.shape[2], num_actions=num_actions)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SequenceClassifier(config)
    rms = float((x - x[:, :1]).pow(2).mean().sqrt())
    if rms > 0:
        model.displacement_scale.fill_(1.0 / rms)
    rng = torch.Generator().manual_seed(seed)
    optim = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        batch = torch.randint(len(x), (min(batch_size, len(x)),), generator=rng)
        logits, _ = model(x[batch])
        loss = F.cross_entropy(logits, y[batch])
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # a GRU's first steps can jump
        optim.step()
    return model.eval()


@torch.inference_mode()
def classify_sequences(
    classifier: SequenceClassifier, sequences: Sequences, *, batch_size: int = 512
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, T, K, 2) sequences -> logits (N, A) and features (N, F), in batches."""
    classifier.eval()
    x = torch.as_tensor(np.asarray(sequences), dtype=torch.float32)
    parts = [classifier(b) for b in x.split(batch_size)]
    if not parts:
        raise KeyvidError("no sequences to classify")
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def random_pairs(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """(min(count, n(n-1)/2), 2) distinct unordered pairs i ≠ j of 0..n-1, in draw order."""
    count = min(count, n * (n - 1) // 2)  # capped by the pairs the set has
    seen: dict[tuple[int, int], None] = {}  # insertion-ordered set
    while len(seen) < count:
        i, j = (int(v) for v in rng.choice(n, 2, replace=False))
        seen.setdefault((min(i, j), max(i, j)))
    return np.array(list(seen), dtype=np.int64).reshape(-1, 2)


def diversity(
    features: torch.Tensor, *, pairs: int = DIVERSITY_PAIRS, seed: int = 0
) -> float | None:
    """Mean feature distance over ``pairs`` random pairs (None with fewer than 2 features)."""
    if len(features) < 2:
        return None
    chosen = torch.from_numpy(random_pairs(len(features), pairs, np.random.default_rng(seed)))
    return _mean_distance(features, chosen)


def multimodality(
    features: torch.Tensor,
    labels: torch.Tensor,
    *,
    pairs: int = MULTIMODALITY_PAIRS,
    seed: int = 0,
) -> float | None:
    """Per action, the mean feature distance of ``pairs`` random pairs of its sequences;
    averaged over the actions that have 2 sequences or more (None when none has)."""
    rng = np.random.default_rng(seed)
    per_action = []
    for action in torch.unique(labels).tolist():  # sorted: a fixed draw order
        members = torch.nonzero(labels == action).flatten()  # (n_a,) indices into features
        if len(members) < 2:
            continue
        chosen = torch.from_numpy(random_pairs(len(members), pairs, rng))  # (P, 2) into members
        per_action.append(_mean_distance(features[members], chosen))
    return float(np.mean(per_action)) if per_action else None


def _mean_distance(features: torch.Tensor, pairs: torch.Tensor) -> float:
    a, b = features[pairs[:, 0]].double(), features[pairs[:, 1]].double()  # (P, F) each
    return float((a - b).norm(dim=1).mean())


def motion_recognition_metrics(
    classifier: SequenceClassifier,
    rows: dict[str, tuple[Sequences, Labels]],
    reference_row: str,
    *,
    train: tuple[Sequences, Labels] | None = None,
    seed: int = 0,
) -> dict[str, dict]:
    """Per row of {row: ((N, T, K, 2) sequences, (N,) actions)}: ``sequences`` (N),
    ``accuracy``, ``fid`` against ``reference_row`` (not for that row itself),
    ``fid_train`` against ``train``'s sequences when given, ``diversity`` and
    ``multimodality`` (see the module docstring). A figure the set is too small for
    (a covariance needs 2 sequences per side, a pair 2 sequences) is left out.
    """
    if reference_row not in rows:
        raise KeyvidError(f"the reference row {reference_row!r} is not among {list(rows)}")
    read = {}
    for row, (sequences, labels) in rows.items():
        logits, feats = classify_sequences(classifier, sequences)
        read[row] = (logits, feats, torch.as_tensor(np.asarray(labels), dtype=torch.long))
    reference = read[reference_row][1]
    train_features = classify_sequences(classifier, train[0])[1] if train is not None else None
    out = {}
    for row, (logits, feats, labels) in read.items():
        metrics: dict[str, float | int] = {
            "sequences": len(feats),
            "accuracy": float((logits.argmax(1) == labels).double().mean()),
        }
        if row != reference_row and min(len(feats), len(reference)) >= 2:
            metrics["fid"] = frechet_distance_between(reference, feats)
        if train_features is not None and min(len(feats), len(train_features)) >= 2:
            metrics["fid_train"] = frechet_distance_between(train_features, feats)
        if (value := diversity(feats, seed=seed)) is not None:
            metrics["diversity"] = value
        if (value := multimodality(feats, labels, seed=seed)) is not None:
            metrics["multimodality"] = value
        out[row] = metrics
    return out
