"""``random_action``: a uniformly random action instead of the agent's, by the wrapper's engine.

Compiled to :class:`~rlnoise.wrappers.engines.RandomReplacement` with one row
per lane (the engine of :class:`rlnoise.wrappers.RandomActionReplacement`): each
step a lane draws a coin and the coordinates of a random action from its
episode's generator. With probability 1 it is the uniformly random policy (the
reference of the normalised score), and the policy is not run at all.

Example:
    >>> RandomActionPerturbation(0.25).label
    'random_action:0.25'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rlnoise.core.checks import check_float, check_keys
from rlnoise.core.random import make_rng
from rlnoise.evaluation.perturbations.base import (
    ActionInjector,
    GridItem,
    Lanes,
    Perturbation,
    fields,
    grid_levels,
)
from rlnoise.wrappers.engines import RandomReplacement

__all__ = ["RandomActionPerturbation"]


@dataclass(frozen=True)
class RandomActionPerturbation(Perturbation):
    """With ``probability`` the action is replaced by a uniform draw from the action space.

    Discrete, MultiDiscrete, MultiBinary and bounded Box action spaces.
    """

    probability: float
    type: ClassVar[str] = "random_action"
    grid_keys: ClassVar[tuple[str, ...]] = ("random_action",)
    exclusive: ClassVar[str | None] = "random_action"

    def __post_init__(self) -> None:
        value = check_float("random_action.probability", self.probability, low=0.0, high=1.0)
        object.__setattr__(self, "probability", value)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "probability": self.probability}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RandomActionPerturbation:
        return cls(**fields("random_action", data, ["probability"]))

    @property
    def label(self) -> str:
        return f"random_action:{self.probability:g}"

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """``random_action: [probabilities]`` (or ``{levels: [...]}``)."""
        levels, options = grid_levels(key, section)
        check_keys(key, options, [])
        return [GridItem(cls(p), "random_action", p) for p in levels]

    def compile(self, lanes: Lanes) -> ActionInjector:
        return _ReplacementInjector(self, lanes)


class _ReplacementInjector(ActionInjector):
    order = 20

    def __init__(self, perturbation: RandomActionPerturbation, lanes: Lanes):
        self.probability = perturbation.probability
        self.replaces_all = self.probability == 1
        self.engine = RandomReplacement(
            lanes.action_space,
            n_rows=lanes.n_lanes,
            seed_key=(),
            name=f"{lanes.where}: random_action",
        )

    def start(self, lane: int, seed: int) -> None:
        self.engine.reseed([make_rng(seed)], [lane])

    def perturb(self, actions: np.ndarray, lanes: np.ndarray) -> np.ndarray:
        return self.engine.apply(actions, lanes, probability=self.probability)
