"""A training unit whose worker is killed (SIGKILL) mid-write once, for the Ray retry test."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from rlnoise.experiments.train import train_unit


def die_once_then_train(config: Any, seed: int, directory: str, *args: Any) -> str:
    """First attempt: half-write the run directory, then SIGKILL this process; then train.

    Whether the attempt is the first is kept on disk (``killed_seed_<s>`` two
    levels above the run directory), since a retry runs in a new process.
    """
    marker = Path(directory).parents[1] / f"killed_seed_{seed}"
    if not marker.exists():
        marker.write_text("killed once\n")
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "model.zip").write_bytes(b"half-written")
        (Path(directory) / "leftover.tmp").write_bytes(b"")
        os.kill(os.getpid(), signal.SIGKILL)
    return train_unit(config, seed, directory, *args)
