"""``sticky_action``: the previous action repeated, by Gymnasium's own ``StickyAction``.

Compiled to :class:`~rlnoise.wrappers.engines.StickyRepeats`: one
``gymnasium.wrappers.StickyAction`` per lane, drawing from the episode's
generator instead of the env's ``np_random`` (which would change the env's own
randomness). The draws are therefore the wrapper's, draw for draw.

Example:
    >>> StickyActionPerturbation(0.25, duration=[1, 3]).to_dict()["duration"]
    [1, 3]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rlnoise.core.checks import check_float, check_int, check_keys, show
from rlnoise.core.random import make_rng
from rlnoise.evaluation.perturbations.base import (
    ActionInjector,
    GridItem,
    Lanes,
    Perturbation,
    fields,
    grid_levels,
)
from rlnoise.wrappers.engines import StickyRepeats

__all__ = ["StickyActionPerturbation"]


@dataclass(frozen=True)
class StickyActionPerturbation(Perturbation):
    """The previous action is repeated with ``probability`` (Machado et al., 2018).

    Args:
        probability: Chance in [0, 1) that a repeat starts at a step.
        duration: Steps a repeat lasts: an int, or ``[low, high]`` drawn uniformly.
    """

    probability: float
    duration: int | tuple[int, int] = 1
    type: ClassVar[str] = "sticky_action"
    grid_keys: ClassVar[tuple[str, ...]] = ("sticky_action",)
    exclusive: ClassVar[str | None] = "sticky_action"

    def __post_init__(self) -> None:
        value = check_float("sticky_action.probability", self.probability, low=0.0)
        if value >= 1.0:
            raise ValueError(f"sticky_action.probability must be < 1, got {show(value)}")
        object.__setattr__(self, "probability", value)
        duration = self.duration
        if isinstance(duration, list | tuple):
            if len(duration) != 2:
                raise ValueError(
                    f"sticky_action.duration must be an int or [low, high], got {show(duration)}"
                )
            low = check_int("sticky_action.duration[0]", duration[0], low=1)
            high = check_int("sticky_action.duration[1]", duration[1], low=low)
            object.__setattr__(self, "duration", (low, high))
        else:
            object.__setattr__(
                self, "duration", check_int("sticky_action.duration", duration, low=1)
            )

    @property
    def duration_range(self) -> tuple[int, int]:
        """``(low, high)`` bounds of the repeat duration (inclusive)."""
        d = self.duration
        return (d, d) if isinstance(d, int) else d

    def to_dict(self) -> dict[str, Any]:
        duration = list(self.duration) if isinstance(self.duration, tuple) else self.duration
        return {"type": self.type, "probability": self.probability, "duration": duration}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StickyActionPerturbation:
        return cls(**fields("sticky_action", data, ["probability", "duration"]))

    @property
    def label(self) -> str:
        return f"sticky_action:{self.probability:g}"

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """``sticky_action: [probabilities]`` or ``{levels: [...], duration: d}``."""
        levels, options = grid_levels(key, section)
        check_keys(key, options, ["duration"])
        return [GridItem(cls(p, **options), "sticky_action", p) for p in levels]

    def compile(self, lanes: Lanes) -> ActionInjector:
        return _StickyInjector(self, lanes)


class _StickyInjector(ActionInjector):
    order = 30

    def __init__(self, perturbation: StickyActionPerturbation, lanes: Lanes):
        self.engine = StickyRepeats(
            lanes.action_space,
            perturbation.probability,
            perturbation.duration,
            n_rows=lanes.n_lanes,
            seed_key=(),
        )

    def start(self, lane: int, seed: int) -> None:
        self.engine.reseed([make_rng(seed)], [lane])

    def perturb(self, actions: np.ndarray, lanes: np.ndarray) -> np.ndarray:
        return self.engine.apply(actions, lanes)
