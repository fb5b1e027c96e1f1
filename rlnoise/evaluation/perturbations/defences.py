"""Test-time defences as conditions: ``action_smoothing``, ``obs_smoothing`` (compose with attacks).

=====================  =====================================================================
``type``               what the agent does
=====================  =====================================================================
``action_smoothing``   executes the exponential moving average of its actions, as RL Zoo's
                       ``ActionSmoothingWrapper``: ``s_t = c·s_{t−1} + (1 − c)·a_t`` from
                       ``s_{−1} = 0``, per episode (Box actions)
``obs_smoothing``      acts on the exponential moving average of what it observes:
                       ``o'_t = c·o'_{t−1} + (1 − c)·o_t`` from ``o'_0 = o_0``, in the
                       policy's input space, AFTER any observation attack of the condition
=====================  =====================================================================

A defence composes with any attack in one condition (``conditions: [{name,
perturbations: [attack, defence]}]``), or alone in a grid
(``action_smoothing: [0.5]``). Action smoothing acts first among the action
perturbations (it is part of the agent; action noise acts on what it executes).

Example:
    >>> ActionSmoothingPerturbation(0.6).label, ObservationSmoothingPerturbation(0.3).label
    ('action_smoothing:0.6', 'obs_smoothing:0.3')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces

from rlnoise.core.checks import check_float
from rlnoise.evaluation.perturbations.base import (
    ActionInjector,
    AttackInjector,
    GridItem,
    Lanes,
    Perturbation,
    fields,
    grid_levels,
)

__all__ = ["ActionSmoothingPerturbation", "AttackChain", "ObservationSmoothingPerturbation"]


@dataclass(frozen=True)
class _Smoothing(Perturbation):
    coef: float

    def __post_init__(self) -> None:
        value = check_float(f"{self.type}.coef", self.coef, low=0.0, high=1.0)
        if value == 1.0:
            raise ValueError(f"{self.type}.coef must be < 1 (1 never takes a new value), got 1.0")
        object.__setattr__(self, "coef", value)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "coef": self.coef}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> _Smoothing:
        return cls(**fields(cls.type, data, ["coef"]))

    @property
    def label(self) -> str:
        return f"{self.type}:{self.coef:g}"

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """``KEY: [coefs]`` or ``{levels: [...]}``."""
        levels, options = grid_levels(key, section)
        if options:
            raise ValueError(f"{key} takes only levels, got options {sorted(options)}")
        return [GridItem(cls(c), key, c) for c in levels]


@dataclass(frozen=True)
class ActionSmoothingPerturbation(_Smoothing):
    """The agent executes the EMA of its actions (RL Zoo's ``ActionSmoothingWrapper``).

    Args:
        coef: Smoothing coefficient ``c`` in ``[0, 1)`` (0: no smoothing).
    """

    type: ClassVar[str] = "action_smoothing"
    grid_keys: ClassVar[tuple[str, ...]] = ("action_smoothing",)
    exclusive: ClassVar[str | None] = "action_smoothing"

    def compile(self, lanes: Lanes) -> ActionInjector:
        return _ActionSmoothing(self.coef, lanes)


@dataclass(frozen=True)
class ObservationSmoothingPerturbation(_Smoothing):
    """The agent acts on the EMA of its (possibly attacked) observations.

    Args:
        coef: Smoothing coefficient ``c`` in ``[0, 1)`` (0: no smoothing).
    """

    type: ClassVar[str] = "obs_smoothing"
    grid_keys: ClassVar[tuple[str, ...]] = ("obs_smoothing",)
    exclusive: ClassVar[str | None] = "obs_smoothing"

    def compile(self, lanes: Lanes) -> AttackInjector:
        return _ObservationSmoothing(self.coef, lanes)


class _ActionSmoothing(ActionInjector):
    order = 5  # before action noise (10): the smoothing is the agent's, the noise the world's

    def __init__(self, coef: float, lanes: Lanes):
        space = lanes.action_space
        if not isinstance(space, spaces.Box):
            raise ValueError(
                f"{lanes.where}: action_smoothing needs a Box action space, got {space}"
            )
        self.coef = coef
        self.state = np.zeros((lanes.n_lanes, *space.shape), dtype=np.float64)

    def start(self, lane: int, seed: int) -> None:
        self.state[lane] = 0.0

    def perturb(self, actions: np.ndarray, lanes: np.ndarray) -> np.ndarray:
        smoothed = self.coef * self.state[lanes] + (1.0 - self.coef) * actions
        self.state[lanes] = smoothed
        return smoothed.astype(actions.dtype, copy=False)


class _ObservationSmoothing(AttackInjector):
    space = "normalized"  # it receives the policy's inputs (after normalisation and any attack)
    order = 50

    def __init__(self, coef: float, lanes: Lanes):
        self.coef, self.n_lanes = coef, lanes.n_lanes
        self.state: torch.Tensor | None = None
        self.fresh = np.ones(lanes.n_lanes, dtype=bool)

    def start(self, lane: int, seed: int) -> None:
        self.fresh[lane] = True

    def attack(self, obs: torch.Tensor, lanes: np.ndarray) -> torch.Tensor:
        if self.state is None:
            self.state = torch.zeros((self.n_lanes, *obs.shape[1:]), dtype=obs.dtype)
            self.state = self.state.to(obs.device)
        index = torch.as_tensor(lanes, device=obs.device)
        previous = self.state[index]
        fresh = torch.as_tensor(self.fresh[lanes], device=obs.device).reshape(
            (-1,) + (1,) * (obs.dim() - 1)
        )
        smoothed = torch.where(fresh, obs, self.coef * previous + (1.0 - self.coef) * obs)
        self.state[index] = smoothed
        self.fresh[lanes] = False
        return smoothed


class AttackChain(AttackInjector):
    """Policy-input stages applied in ``order``: one attack, then defences on its output.

    The first stage receives the rows in its own ``space``; the later ones
    (``space = "normalized"``) receive the policy inputs the previous returned.
    """

    def __init__(self, stages: Sequence[AttackInjector]):
        self.stages = sorted(stages, key=lambda s: getattr(s, "order", 0))
        self.space = self.stages[0].space

    def start(self, lane: int, seed: int) -> None:  # the pipeline starts each stage itself
        pass

    def attack(self, obs: torch.Tensor, lanes: np.ndarray) -> torch.Tensor:
        for stage in self.stages:
            obs = stage.attack(obs, lanes)
        return obs
