"""Picklable stand-ins for a training run, cheap to start in a spawned worker (stdlib only)."""

from __future__ import annotations

import threading
from typing import Any


def return_or_wait_forever(config: Any, seed: int) -> str:
    """Seed 0 finishes at once; any other seed never does (until its process is stopped)."""
    if seed != 0:
        threading.Event().wait()
    return f"seed {seed}"


def square_or_fail(value: int) -> int:
    """``value ** 2``; a negative value fails, as a unit of work with a bad input would."""
    if value < 0:
        raise ValueError(f"cannot take a negative value, got {value}")
    return value * value
