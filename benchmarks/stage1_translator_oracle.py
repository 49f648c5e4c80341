"""Can the translator use keypoints at all? Train T alone on ground-truth joints.

The upper bound for stage 1's translator (DESIGN: "ground-truth keypoints driving
T"): if T cannot learn to draw the target pose from perfect keypoints quickly,
no detector can get a useful gradient through it. Prints, every 100 steps, the
L1 of T's output to the target on fixed test pairs, the L1 of simply copying the
reference, and how much the output changes when k' is another image's
(0 = T ignores the keypoints).

    python -m benchmarks.stage1_translator_oracle --data data/synth [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from benchmarks.common import print_table, write_result
from keyvid.config import load_config
from keyvid.data.datasets import FramePairDataset
from keyvid.data.skeleton import NUM_JOINTS
from keyvid.losses.reconstruction import ReconstructionLoss
from keyvid.models.translator import Translator
from keyvid.training.config import Stage1Config
from keyvid.training.harness.sampler import InfiniteSampler

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "synth.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/synth")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--name", default="stage1_translator_oracle")
    parser.add_argument(
        "overrides", nargs="*", help="config overrides, e.g. model.translator.multiscale_maps=true"
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    cfg = load_config(Stage1Config, CONFIG, [f"model.num_keypoints={NUM_JOINTS}", *args.overrides])
    size = (cfg.model.image_size, cfg.model.image_size)
    translator = Translator(cfg.model.translator)
    train = FramePairDataset(args.data, augment=cfg.data.augment, size=size)
    loader = DataLoader(train, batch_size=cfg.optim.batch_size, sampler=InfiniteSampler(len(train)))
    loss_fn = ReconstructionLoss.from_config(cfg.loss.reconstruction, cfg.loss.vgg_weights)
    opt = torch.optim.Adam(translator.parameters(), lr=cfg.optim.lr, betas=cfg.optim.betas)
    test = FramePairDataset(args.data, split="test", size=size, seed=1)
    val = [test[i * 97] for i in range(32)]
    vs, vt = (torch.stack([v[k] for v in val]) for k in ("source", "target"))
    ks, kt = (torch.stack([v[k] for v in val]) for k in ("source_joints", "target_joints"))
    rows, t0 = [], time.time()
    for step, batch in enumerate(loader, 1):
        out = translator(batch["source"], batch["source_joints"], batch["target_joints"])
        loss = loss_fn(out.image, batch["target"]) + loss_fn(out.synthesized, batch["target"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            translator.eval()
            with torch.no_grad():
                good = translator(vs, ks, kt).image
                swapped = translator(vs, ks, kt.roll(1, 0)).image
            translator.train()
            rows.append({
                "step": step, "seconds": round(time.time() - t0),
                "l1_output_target": round(float((good - vt).abs().mean()), 5),
                "l1_reference_target": round(float((vs - vt).abs().mean()), 5),
                "keypoint_effect": round(float((good - swapped).abs().mean()), 5),
            })  # fmt: skip
            print(rows[-1], flush=True)
        if step >= args.steps:
            break
    print_table(rows, list(rows[0]))
    write_result(args.name, rows, overrides=args.overrides, loss=loss_fn.kind_in_use)


if __name__ == "__main__":
    main()
