"""``action_noise``: noise on continuous actions, through the engine of ``ActionNoise``.

Compiled to :class:`~rlnoise.wrappers.engines.BoxActionNoise` with one row per
lane (the engine of :class:`rlnoise.wrappers.ActionNoise`): the noisy action is
clipped back to the action bounds. Discrete actions: ``random_action``.

Example:
    >>> ActionNoisePerturbation("gaussian:0.2").label
    'action:gaussian:0.2'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from rlnoise.core.random import make_rng
from rlnoise.core.spec import NoiseSpec
from rlnoise.evaluation.perturbations.base import (
    ActionInjector,
    GridItem,
    Lanes,
    Perturbation,
    evaluation_spec,
    fields,
    noise_family,
)
from rlnoise.wrappers.engines import BoxActionNoise, check_env_spec

__all__ = ["ActionNoisePerturbation"]


@dataclass(frozen=True)
class ActionNoisePerturbation(Perturbation):
    """Noise on continuous (Box) actions, clipped back to the action bounds.

    For discrete actions use :class:`RandomActionPerturbation`.

    Args:
        noise: Any noise spec that an env wrapper takes.
    """

    noise: NoiseSpec
    type: ClassVar[str] = "action_noise"
    grid_keys: ClassVar[tuple[str, ...]] = ("action_noise",)
    exclusive: ClassVar[str | None] = "action_noise"

    def __post_init__(self) -> None:
        spec = evaluation_spec("action_noise.noise", self.noise)
        check_env_spec(spec, "action_noise.noise")
        object.__setattr__(self, "noise", spec)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "noise": self.noise.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ActionNoisePerturbation:
        return cls(**fields("action_noise", data, ["noise"]))

    @property
    def label(self) -> str:
        return f"action:{self.noise.label}"

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """``action_noise: {kind: levels}``."""
        items = []
        for kind, level, spec, _ in noise_family(key, section):
            items.append(GridItem(cls(spec), f"action:{kind}", level))
        return items

    def compile(self, lanes: Lanes) -> ActionInjector:
        return _ActionNoiseInjector(self, lanes)


class _ActionNoiseInjector(ActionInjector):
    order = 10

    def __init__(self, perturbation: ActionNoisePerturbation, lanes: Lanes):
        space = lanes.action_space
        if not isinstance(space, spaces.Box):
            raise ValueError(
                f"{lanes.where}: action_noise needs a Box action space, got {space}; "
                "use random_action for discrete actions"
            )
        self.n_lanes, self.space = lanes.n_lanes, space
        try:
            self.noise = BoxActionNoise(
                space, [perturbation.noise] * lanes.n_lanes, n_rows=lanes.n_lanes, seed_key=()
            )
        except ValueError as error:
            raise ValueError(f"{lanes.where}: {error}") from None

    def start(self, lane: int, seed: int) -> None:
        self.noise.reseed([make_rng(seed)], [lane])

    def perturb(self, actions: np.ndarray, lanes: np.ndarray) -> np.ndarray:
        # Every lane draws, idle ones included, so a lane's noise is its episode's alone.
        full = np.zeros((self.n_lanes, *self.space.shape), dtype=self.space.dtype)
        full[lanes] = actions
        return self.noise.apply(full)[lanes]
