"""Lane bookkeeping of the batched runner: which lane plays which episode of a cell.

A *cell* is one (run, condition) pair with its ``n_episodes`` episodes. While
it is active it owns some *lanes*; a lane plays the cell's episodes one after
another, in a runner *slot* (an env). The cell hands out episodes, records the
finished ones, and restarts the condition's injectors
(:class:`~rlnoise.evaluation.pipeline.Pipeline`) on a lane when it starts an
episode, so an episode's perturbation never depends on the lane, the batch
size, or what else runs at the same time (common random numbers).

Example:
    >>> from rlnoise.evaluation.conditions import Condition
    >>> seed = episode_seed(0, Condition.clean(), episode=3, index=0)
    >>> seed == episode_seed(0, Condition.clean(), episode=3, index=0)
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlnoise.evaluation.conditions import Condition
from rlnoise.evaluation.envs import env_key
from rlnoise.evaluation.perturbations.base import Lanes
from rlnoise.evaluation.pipeline import Pipeline, episode_seed, observation_dtype
from rlnoise.evaluation.policy import PolicyAdapter

__all__ = ["Cell", "episode_seed"]


class Cell:
    """The lanes and the results of one (run, condition) cell.

    Args:
        run: Index of the run.
        index: Index of the condition.
        condition: The condition.
        adapter: The run's policy adapter.
        n_episodes: Episodes to play.
        seed: Base seed of the evaluation.
        n_lanes: Lanes (concurrent episodes) this cell gets.
        action_space: The space actions are perturbed and drawn in (default:
            the policy's; the random reference draws from the env's).

    Attributes:
        pipeline: The condition compiled for the lanes (what perturbs them).
        returns: Episode returns, ``(n_episodes,)``, filled as episodes end.
        lengths: Episode lengths, likewise.
        nonfinite_observations: Env observations (resets and steps) with a NaN
            or infinite element.

    Raises:
        ValueError: A perturbation does not fit the model's spaces (checked
            when the cell is built, so the runner builds every cell once with
            one lane before any episode runs).
    """

    def __init__(
        self,
        run: int,
        index: int,
        condition: Condition,
        adapter: PolicyAdapter,
        n_episodes: int,
        seed: int,
        n_lanes: int,
        action_space: Any = None,
    ):
        self.run, self.index, self.condition = run, index, condition
        self.n_episodes, self.seed, self.n_lanes = n_episodes, seed, n_lanes
        self.returns = np.zeros(n_episodes, dtype=np.float64)
        self.lengths = np.zeros(n_episodes, dtype=np.int64)
        self.nonfinite_observations = 0
        self.finished = 0
        self.lane_episode = np.full(n_lanes, -1, dtype=np.int64)
        self.lane_slot = np.full(n_lanes, -1, dtype=np.int64)
        self._live: tuple[np.ndarray, np.ndarray] | None = None
        self._rows: np.ndarray | None = None  # every lane's raw rows, when some are idle
        self.env_key = env_key(condition)
        self.obs_shape = tuple(adapter.input_space.shape or ())
        lanes = Lanes(
            name=condition.name,
            n_lanes=n_lanes,
            adapter=adapter,
            action_space=adapter.action_space if action_space is None else action_space,
            observation_dtype=observation_dtype(adapter),
        )
        self.pipeline = Pipeline(condition, lanes, seed)
        first = min(n_lanes, n_episodes)
        for lane in range(first):
            self.start_episode(lane, lane)
        self.next_episode = first

    # -- episodes ----------------------------------------------------------------
    def start_episode(self, lane: int, episode: int) -> None:
        """Point ``lane`` at ``episode``; restart its injectors from the episode's seeds."""
        self.lane_episode[lane] = episode
        self.pipeline.start(lane, episode)

    def assign_slot(self, lane: int, slot: int) -> None:
        """Attach ``lane`` to a runner slot."""
        self.lane_slot[lane] = slot
        self._live = None

    def retire_lane(self, lane: int) -> None:
        """``lane`` has no more episodes to play; it stops stepping."""
        self.lane_episode[lane] = -1
        self.lane_slot[lane] = -1
        self._live = None

    @property
    def live(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lanes, slots)`` of the lanes playing an episode (cached until one retires)."""
        if self._live is None:
            lanes = np.flatnonzero(self.lane_episode >= 0)
            self._live = (lanes, self.lane_slot[lanes])
        return self._live

    def take_episode(self) -> int | None:
        """The next episode to play, or ``None`` when all have been handed out."""
        if self.next_episode >= self.n_episodes:
            return None
        episode = self.next_episode
        self.next_episode += 1
        return episode

    def record(self, episode: int, episode_return: float, length: int) -> None:
        """Store a finished episode."""
        self.returns[episode] = episode_return
        self.lengths[episode] = length
        self.finished += 1

    @property
    def done(self) -> bool:
        """True when every episode has been recorded."""
        return self.finished == self.n_episodes

    # -- the live lanes' rows ------------------------------------------------------
    def observe(self, obs: np.ndarray, lanes: np.ndarray) -> np.ndarray:
        """Raw observations of the live ``lanes`` -> their policy-side observations.

        The injectors draw for every lane (idle ones included), so a lane's
        draws depend only on its own episode.
        """
        if lanes.size == self.n_lanes:  # every lane live: rows are already in lane order
            return self.pipeline.observe(obs)
        if self._rows is None:
            self._rows = np.zeros((self.n_lanes, *self.obs_shape), dtype=obs.dtype)
        self._rows[lanes] = obs
        return self.pipeline.observe(self._rows)[lanes]
