"""What every training run shares: its folder, device, logging and progress."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
import yaml

from keyvid.errors import KeyvidError
from keyvid.training.config import OptimConfig

logger = logging.getLogger("keyvid")


def pick_device(name: str) -> torch.device:
    """``"auto"`` is CUDA when available, else CPU; anything else must be usable."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise KeyvidError(
            f"device {name!r} asked for, but CUDA is not available; use optim.device=cpu"
        )
    return device


def learning_rate(optim: OptimConfig, step: int) -> float:
    """Step decay: lr × decay^⌊step / every⌋ (paper Sec. 3.2) × factor per milestone passed.

    Stateless (a function of the step only), so resume is exact.
    """
    passed = sum(step >= m for m in optim.lr_milestones)
    return (
        optim.lr
        * optim.lr_decay ** (step // optim.lr_decay_every)
        * optim.lr_milestone_factor**passed
    )


def prepare_run_dir(run_dir: Path, config: dict, *, resume: bool) -> None:
    """Create a run folder (refusing to reuse one unless resuming) and keep the resolved config."""
    if run_dir.exists() and any(run_dir.iterdir()) and not resume:
        raise KeyvidError(
            f"run folder {run_dir} exists and is not empty; "
            f"pass --resume {run_dir} or choose another --run"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


class RunLogger:
    """Scalars to ``metrics.jsonl`` (always) and TensorBoard (when installed and enabled)."""

    def __init__(self, run_dir: Path, *, tensorboard: bool, step: int = 0) -> None:
        path = run_dir / "metrics.jsonl"
        # A resumed run continues the clock where its checkpoint (at ``step``) left it.
        self.time_offset = _logged_time(path, step)
        self.metrics = open(path, "a")  # noqa: SIM115 (closed in close())
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:
                logger.warning("tensorboard is not installed: logging to metrics.jsonl only")

    def scalars(self, step: int, values: dict[str, float], *, elapsed: float) -> None:
        elapsed += self.time_offset
        row = {"step": step, "time": round(elapsed, 2), **{k: float(v) for k, v in values.items()}}
        self.metrics.write(json.dumps(row) + "\n")
        self.metrics.flush()
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(k, float(v), step)

    def image(self, step: int, tag: str, image) -> None:
        """``image``: (H, W, 3) uint8."""
        if self.tb is not None:
            self.tb.add_image(tag, image, step, dataformats="HWC")

    def close(self) -> None:
        self.metrics.close()
        if self.tb is not None:
            self.tb.close()


class NullRunLogger:
    """What ranks other than 0 log to: nothing (rank 0 writes the run's files)."""

    def scalars(self, step: int, values: dict[str, float], *, elapsed: float) -> None:
        pass

    def image(self, step: int, tag: str, image) -> None:
        pass

    def close(self) -> None:
        pass


def _logged_time(path: Path, step: int) -> float:
    """Training seconds logged up to ``step`` (0 for a new run)."""
    if step == 0 or not path.exists():
        return 0.0
    times = [0.0]
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash
        if row.get("step", step + 1) <= step:
            times.append(float(row.get("time", 0.0)))
    return max(times)
