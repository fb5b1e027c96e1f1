"""Limited training data for procedurally generated envs: a fixed set of levels, and unseen ones.

Many Gymnasium envs draw their layout from the reset seed (MiniGrid, and any
env generated procedurally from ``np_random``): ``reset(seed=s)`` *is* level
``s``. Training on a limited set of levels and testing on levels never seen in
training (Cobbe et al., 2019, Procgen's ``num_levels``) is then a matter of
which seeds reach the env:

- :func:`training_levels` ``(n, split_seed)``: the first ``n`` training levels,
  all **even** seeds; :func:`unseen_levels` ``(n, split_seed)``: ``n`` test levels,
  all **odd** seeds. The two sets never overlap, by construction (parity),
  whatever ``n`` and however many are asked for. Each is a stream: level ``i``
  is ``derive_seed(split_seed, "levels", "train" | "unseen", i)`` folded into its
  half of ``[0, 2**31)``, repeats skipped, so ``training_levels(10)`` is the
  first ten of ``training_levels(100)`` (the sets are nested as Procgen's) and
  the unseen set is the same for every ``n``.
- :class:`LevelSet` plays every episode on a level of a given set: it resets the
  env with the level's seed. The order is shuffled: each pass over the set
  visits every level once, in a fresh random order (so ``len(levels)`` episodes
  from one reset cover the set exactly once), drawn from a generator the
  wrapper owns, seeded from ``derive_seed(seed, "levels")`` at ``reset(seed=...)``
  — the same reset seed gives the same level sequence. The env's own seed is
  the level; the wrapper never draws from the env's ``np_random``.

Two levels with different seeds may still generate the same layout when an
env has few layouts (``MiniGrid-DoorKey-5x5`` has a few dozen): disjoint seeds
are the protocol, distinct layouts a property of the env to check.

Example:
    >>> train, unseen = training_levels(3), unseen_levels(3)
    >>> set(train).isdisjoint(unseen), all(s % 2 == 0 for s in train)
    (True, True)
    >>> training_levels(3) == training_levels(10)[:3]
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.core import ActType, ObsType

from rlnoise.core.checks import check_int, show
from rlnoise.core.random import derive_seed, make_rng

__all__ = ["LEVEL_SEED_BOUND", "LevelSet", "LevelShuffle", "training_levels", "unseen_levels"]

#: Level seeds lie in ``[0, LEVEL_SEED_BOUND)``: any env accepts them (numpy takes 32-bit seeds).
LEVEL_SEED_BOUND = 2**31
_HALF = LEVEL_SEED_BOUND // 2
_SPLITS = {"train": 0, "unseen": 1}  # the parity of each split's seeds


def _levels(split: str, n: int, split_seed: int) -> tuple[int, ...]:
    n = check_int(f"{split} levels", n, low=1)
    split_seed = check_int("split_seed", split_seed, low=0)
    levels: dict[int, None] = {}  # insertion-ordered set
    index = 0
    while len(levels) < n:
        draw = derive_seed(split_seed, "levels", split, index) % _HALF
        levels.setdefault(2 * draw + _SPLITS[split], None)
        index += 1
    return tuple(levels)


def training_levels(n: int, split_seed: int = 0) -> tuple[int, ...]:
    """The first ``n`` training levels of split ``split_seed``: distinct even seeds.

    Example:
        >>> training_levels(2)
        (868816170, 1987589314)

    Raises:
        ValueError: ``n`` < 1 or a negative ``split_seed``.
    """
    return _levels("train", n, split_seed)


def unseen_levels(n: int, split_seed: int = 0) -> tuple[int, ...]:
    """``n`` levels disjoint from every :func:`training_levels` of ``split_seed``: odd seeds.

    Example:
        >>> all(level % 2 == 1 for level in unseen_levels(50))
        True

    Raises:
        ValueError: ``n`` < 1 or a negative ``split_seed``.
    """
    return _levels("unseen", n, split_seed)


def check_levels(levels: int | Sequence[int], split_seed: int = 0) -> tuple[int, ...]:
    """A level set from a count (the first ``n`` training levels) or explicit seeds.

    Raises:
        ValueError: An empty set, a seed outside ``[0, LEVEL_SEED_BOUND)`` or a repeated one.
    """
    if isinstance(levels, int | np.integer) and not isinstance(levels, bool):
        return training_levels(int(levels), split_seed)
    if isinstance(levels, str) or not isinstance(levels, Sequence) or not levels:
        raise ValueError(f"levels must be a count or a non-empty list of seeds, got {show(levels)}")
    out = tuple(check_int("levels[]", level, low=0, high=LEVEL_SEED_BOUND - 1) for level in levels)
    if len(set(out)) != len(out):
        raise ValueError(f"levels must not repeat, got {show(list(levels))}")
    return out


class LevelShuffle:
    """The level sequence of one env: passes over the set, each in a fresh random order.

    Args:
        levels: The level seeds.
        seed: Seed of the order (``None``: OS entropy).

    Example:
        >>> order = LevelShuffle((10, 20, 30), seed=0)
        >>> sorted(order.next() for _ in range(3))
        [10, 20, 30]
    """

    def __init__(self, levels: Sequence[int], seed: int | None = None) -> None:
        self.levels = np.asarray(levels, dtype=np.int64)
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        """Start a new sequence from ``seed`` (``None``: OS entropy)."""
        self._rng = make_rng(seed)
        self._order = self.levels[:0]
        self._position = 0

    def next(self) -> int:
        """The next level (a new pass in a new order when a pass is complete)."""
        if self._position == len(self._order):
            self._order = self._rng.permutation(self.levels)
            self._position = 0
        level = int(self._order[self._position])
        self._position += 1
        return level


class LevelSet(
    gym.Wrapper[ObsType, ActType, ObsType, ActType],
    gym.utils.RecordConstructorArgs,
):
    """Plays every episode on one of a fixed set of levels (the reset seed of the env).

    Each reset passes the next level of a shuffled sequence
    (:class:`LevelShuffle`) to the env as its seed; ``info["level"]`` tells
    which. ``reset(seed=s)`` restarts the sequence from
    ``derive_seed(s, "levels")``; ``reset()`` continues it (OS entropy the
    first time), as Gymnasium envs do with their own seeds.

    Example:
        >>> import gymnasium as gym
        >>> env = LevelSet(gym.make("CartPole-v1"), 3)  # the first 3 training levels
        >>> _, info = env.reset(seed=0)
        >>> played = [info["level"]] + [env.reset()[1]["level"] for _ in range(2)]
        >>> sorted(played) == sorted(training_levels(3))
        True
        >>> test = LevelSet(gym.make("CartPole-v1"), unseen_levels(100))

    Args:
        env: An env whose reset seed picks the level.
        levels: A count ``n`` (the first ``n`` :func:`training_levels` of
            ``split_seed``) or the level seeds themselves (e.g.
            :func:`unseen_levels` to test).
        split_seed: Which split a count refers to.

    Raises:
        ValueError: As :func:`check_levels`.
    """

    def __init__(
        self,
        env: gym.Env[ObsType, ActType],
        levels: int | Sequence[int],
        split_seed: int = 0,
    ):
        self.levels = check_levels(levels, split_seed)
        gym.utils.RecordConstructorArgs.__init__(
            self,
            levels=levels if isinstance(levels, int) else list(self.levels),
            split_seed=split_seed,
        )
        gym.Wrapper.__init__(self, env)
        self.order = LevelShuffle(self.levels, None)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset the env on the next level; a seed restarts the level sequence."""
        if seed is not None:
            self.order.reseed(derive_seed(seed, "levels"))
        level = self.order.next()
        obs, info = self.env.reset(seed=level, options=options)
        info["level"] = level
        return obs, info

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env (the level changes only at reset)."""
        return self.env.step(action)
