"""Units of work for the fan-out tests: one that fails on a condition, one from another install."""

from __future__ import annotations

from typing import Any
from unittest import mock

from rlnoise.evaluation.fanout import evaluate_chunk
from rlnoise.evaluation.setup import versions


def fail_on_sticky(model: str, algo: str, env: Any, conditions: list[Any], *args: Any) -> Any:
    """:func:`evaluate_chunk`, except that a chunk with a sticky-action condition fails."""
    names = [c.name for c in conditions]
    if any(name.startswith("sticky_action") for name in names):
        raise ValueError(f"cannot evaluate {names}")
    return evaluate_chunk(model, algo, env, conditions, *args)


def other_torch(*args: Any) -> Any:
    """:func:`evaluate_chunk` on a worker whose torch is another version."""
    other = {**versions(), "torch": "0.0.1"}
    with mock.patch("rlnoise.evaluation.setup.versions", return_value=other):
        return evaluate_chunk(*args)


def refuse(*args: Any) -> Any:
    """A unit that must not run (every cell is in the store already)."""
    raise AssertionError("a unit ran with nothing to play")
