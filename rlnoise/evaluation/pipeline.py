"""A condition compiled for the lanes of one cell: its injectors in the order of the step.

Each perturbation of the condition compiles to an injector of one stage
(:mod:`rlnoise.evaluation.perturbations.base`); :class:`Pipeline` calls them
stage by stage: raw observation noise, a raw-space attack, the model's
normalisation, normalised-space noise, a normalised-space attack, the policy
(per-lane weights), the action injectors by their order. Every lane restarts
every injector when it starts an episode, with that episode's seed
(:func:`episode_seed`), so an episode's perturbation is a function of (seed,
condition, episode) only.

Example:
    >>> from rlnoise.evaluation.conditions import Condition
    >>> episode_seed(0, Condition.clean(), episode=3, index=0) == episode_seed(
    ...     0, Condition.clean(), episode=3, index=0)
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rlnoise.core.random import derive_seed
from rlnoise.evaluation.conditions import Condition
from rlnoise.evaluation.perturbations.base import (
    ActionInjector,
    AttackInjector,
    Injector,
    Lanes,
    ObservationInjector,
    WeightInjector,
)
from rlnoise.evaluation.policy import PolicyAdapter

__all__ = ["Pipeline", "episode_seed", "observation_dtype"]


def episode_seed(seed: int, condition: Condition, episode: int, index: int) -> int:
    """Seed of perturbation ``index`` of ``condition`` in episode ``episode``.

    Depends on the condition's perturbations (not its name or position in the
    grid, nor the model), so adding conditions or models changes nothing else.
    """
    return derive_seed(seed, "rlnoise.evaluation", condition.key, int(episode), int(index))


def observation_dtype(adapter: PolicyAdapter) -> np.dtype:
    """The float dtype observation rows are perturbed in: the space's, float32 otherwise.

    Normalised rows are float32 (what SB3's ``VecNormalize`` returns), so noise
    before the normalisation is drawn in float32 too.
    """
    space = adapter.input_space
    if adapter.normalizes:
        return np.dtype(np.float32)
    if isinstance(space, spaces.Box) and np.issubdtype(space.dtype, np.floating):
        return np.dtype(space.dtype)
    return np.dtype(np.float32)


class Pipeline:
    """The injectors of one condition for one cell's lanes, called stage by stage.

    Args:
        condition: The condition.
        lanes: What the injectors may know of the cell.
        seed: Base seed of the evaluation.

    Raises:
        ValueError: A perturbation that does not fit the model, or stages that
            cannot follow each other (normalised-space noise after a raw-space attack).
    """

    def __init__(self, condition: Condition, lanes: Lanes, seed: int):
        self.condition, self.seed = condition, seed
        self.adapter = lanes.adapter
        self.injectors: list[Injector] = [p.compile(lanes) for p in condition.perturbations]
        observations = [i for i in self.injectors if isinstance(i, ObservationInjector)]
        self.raw = [i for i in observations if i.space == "raw"]
        self.normalized = [i for i in observations if i.space == "normalized"]
        attacks = [i for i in self.injectors if isinstance(i, AttackInjector)]
        self.attack: AttackInjector | None = attacks[0] if attacks else None
        if self.attack is not None and self.attack.space == "raw" and self.normalized:
            raise ValueError(
                f"{lanes.where}: a raw-space attack cannot be followed by normalized-space "
                "observation noise; attack in normalized space instead"
            )
        weights = [i for i in self.injectors if isinstance(i, WeightInjector)]
        self.weights: WeightInjector | None = weights[0] if weights else None
        self.actions: list[ActionInjector] = sorted(
            (i for i in self.injectors if isinstance(i, ActionInjector)), key=lambda i: i.order
        )
        self.action_space = lanes.action_space
        #: The policy's input differs from the normalised env observation.
        self.perturbs_observations = bool(observations or self.attack)
        #: Actions are noised, replaced or repeated.
        self.perturbs_actions = bool(self.actions)
        #: Every action is replaced by a random one: the policy's choice is never used.
        self.ignores_policy = any(i.replaces_all for i in self.actions)

    def start(self, lane: int, episode: int) -> None:
        """Restart every injector of ``lane`` from ``episode``'s seeds."""
        for index, injector in enumerate(self.injectors):
            injector.start(lane, episode_seed(self.seed, self.condition, episode, index))

    def observe(self, rows: np.ndarray) -> np.ndarray:
        """Raw rows of every lane -> policy inputs (raw ones before a raw-space attack)."""
        x = rows
        for injector in self.raw:
            x = injector.perturb(x)
        if self.attack is not None and self.attack.space == "raw":
            return np.asarray(x, dtype=np.float32)  # normalised after the attack, on the device
        x = self.adapter.normalize(x)
        for injector in self.normalized:
            x = injector.perturb(x)
        return x

    def attack_rows(self, obs: torch.Tensor, lanes: np.ndarray) -> torch.Tensor:
        """The live lanes' policy inputs, attacked (on the policy device)."""
        assert self.attack is not None
        return self.attack.attack(obs, lanes)

    def act(self, actions: np.ndarray, lanes: np.ndarray) -> np.ndarray:
        """The live lanes' actions -> the actions their envs execute."""
        for injector in self.actions:
            actions = injector.perturb(actions, lanes)
        return actions

    def act_without_policy(self, lanes: np.ndarray) -> np.ndarray:
        """Actions of the live lanes when :attr:`ignores_policy`.

        The same draws as :meth:`act` makes, with placeholders where the
        policy's actions would be (all replaced).
        """
        space: Any = self.action_space
        placeholder = np.zeros((lanes.size, *space.shape), dtype=space.dtype)
        return self.act(placeholder, lanes)
