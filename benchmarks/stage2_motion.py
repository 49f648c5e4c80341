"""Generated keypoint sequences vs pseudo-labels on the test split, with and without the action.

For each model: L1 between sampled and pseudo-label sequences (mean over samples,
and best of the samples), diversity (mean pairwise L1 between samples of one
video), in keypoint units ([-1, 1]); beside two references that need no
training: "stand still" (k_t = k0) and the per-action mean trajectory of the
training split. A model that has learnt the actions beats both.

    python benchmarks/stage2_motion.py --data data/synth \
        --model with_action=synth --model without_action=runs/stage2-noaction
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.common import print_table, write_result
from keyvid.data.datasets import SequenceDataset
from keyvid.metrics.motion import motion_metrics
from keyvid.models.load import load_motion


def reference_rows(train: SequenceDataset, test: SequenceDataset) -> list[dict]:
    """L1 of two trivial predictors on the test split."""

    def stack(ds):
        items = [ds[i] for i in range(len(ds))]
        return torch.stack([it["keypoints"] for it in items]), torch.stack(
            [it["action"] for it in items]
        )

    tr, tr_a = stack(train)
    te, te_a = stack(test)
    still = (te[:, 1:] - te[:, :1]).abs().mean()
    offsets = tr[:, 1:] - tr[:, :1]  # (N, T, K, 2)
    mean_traj = torch.stack([offsets[tr_a == a].mean(0) for a in range(int(tr_a.max()) + 1)])
    per_action = (te[:, :1] + mean_traj[te_a] - te[:, 1:]).abs().mean()
    return [
        # Deterministic: every sample is the same, so best-of-N is the L1 itself.
        {
            "model": "stand still (k_t = k0)",
            "l1": float(still),
            "l1_best": float(still),
            "diversity": 0.0,
        },
        {
            "model": "per-action mean trajectory",
            "l1": float(per_action),
            "l1_best": float(per_action),
            "diversity": 0.0,
        },
    ]


@torch.no_grad()
def per_action_travel(generator, test: SequenceDataset, samples: int, seed: int = 0) -> list[dict]:
    """Mean |k_t - k0| per action: ground-truth joints, pseudo-labels, generated samples."""
    rng = torch.Generator().manual_seed(seed)
    generator.eval()
    items = [test[i] for i in range(len(test))]
    seq = torch.stack([it["keypoints"] for it in items])  # (N, T+1, K, 2)
    joints = torch.stack([it["joints"] for it in items])  # (N, T+1, J, 2)
    action = torch.stack([it["action"] for it in items])  # (N,)
    k0 = seq[:, 0]
    draws = torch.stack(
        [generator.sample(k0, action, seq.shape[1] - 1, rng) for _ in range(samples)]
    )  # (S, N, T, K, 2)

    def travel(x: torch.Tensor) -> torch.Tensor:  # (N, T+1, P, 2) -> (N,)
        return (x[:, 1:] - x[:, :1]).abs().mean(dim=(1, 2, 3))

    generated = (draws - k0[None, :, None]).abs().mean(dim=(0, 2, 3, 4))  # (N,)
    rows = []
    for a, name in enumerate(test.data.actions):
        pick = action == a
        rows.append({
            "action": name,
            "joints": float(travel(joints)[pick].mean()),
            "pseudo_labels": float(travel(seq)[pick].mean()),
            "generated": float(generated[pick].mean()),
        })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="prepared dataset with pseudo-labels")
    parser.add_argument("--keypoints", default="stage1", help="pseudo-label set name")
    parser.add_argument("--model", action="append", required=True, metavar="LABEL=CHECKPOINT")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--name", default="stage2_motion", help="result file name")
    parser.add_argument(
        "--per-action",
        action="store_true",
        help="also how far joints, pseudo-labels and samples of the first model move per action",
    )
    args = parser.parse_args()

    rows, travel = [], []
    for spec in args.model:
        label, _, path = spec.partition("=")
        generator, ckpt, _ = load_motion(path)
        length = generator.config.length + 1
        test = SequenceDataset(
            args.data,
            split="test",
            length=length,
            keypoints=args.keypoints,
            load_frames=False,
            random_start=False,
        )
        metrics = motion_metrics(generator, test, samples=args.samples, seed=0)
        rows.append(
            {
                "model": label,
                "checkpoint": str(ckpt.path),
                "step": ckpt.step,
                "action": generator.config.action,
                **metrics,
            }
        )
        if args.per_action and not travel:  # the first model, on its own test sequences
            travel = per_action_travel(generator, test, args.samples)
    train = SequenceDataset(
        args.data, length=length, keypoints=args.keypoints, load_frames=False, random_start=False
    )
    rows += reference_rows(train, test)
    print_table(
        rows, ["model", "action", "step", "l1", "l1_best", "diversity", "motion", "motion_data"]
    )
    if travel:
        print_table(travel, ["action", "joints", "pseudo_labels", "generated"])
    write_result(
        args.name,
        rows,
        per_action_travel=travel,
        samples=args.samples,
        data=args.data,
        units="keypoint coordinates in [-1, 1] (image width = 2)",
    )


if __name__ == "__main__":
    main()
