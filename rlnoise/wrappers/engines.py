"""The row-wise engines under the wrappers, for callers that hold their rows themselves.

Every wrapper of :mod:`rlnoise.wrappers` keeps its randomness and its state
in one of these engines, for one env (``n_rows=None``) or a batch of rows
(one per sub-env). The batched robustness evaluation holds the rows of many
episodes at once and perturbs them with the same engines, one row per live
episode, so a perturbation it evaluates is, draw for draw, the one a wrapper
applies in training (``tests/evaluation/test_parity.py``).

==========================  ==============================  ===============================
engine                      what it does                    the wrapper that uses it
==========================  ==============================  ===============================
:class:`BoxNoise`           a spec's noise on the values    ``ObservationNoise`` (each Box
                            of one Box                      leaf), ``VecObservationNoise``,
                                                            vector ``ObservationNoise``
:class:`BoxActionNoise`     :class:`BoxNoise`, clipped to   ``ActionNoise``
                            the action bounds
:class:`RandomReplacement`  with probability ``p``, a       ``RandomActionReplacement``
                            uniformly random action
:class:`StickyRepeats`      the previous action repeated    Gymnasium's ``StickyAction``
                            with probability ``p``          (it runs that class per row)
==========================  ==============================  ===============================

Rows are seeded with :meth:`reseed`: an int seed is derived with the engine's
``seed_key`` (as a wrapper's reset seed is), ``None`` takes OS entropy, and a
``np.random.Generator`` is used as it is.

Example:
    >>> from gymnasium import spaces
    >>> engine = RandomReplacement(spaces.Discrete(3), n_rows=2)
    >>> engine.reseed([np.random.default_rng(0), np.random.default_rng(1)])
    >>> engine.apply(np.array([0, 0]), probability=1.0).tolist()  # every action replaced
    [0, 2]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import StickyAction

from rlnoise.core.blocks import UnitBlock
from rlnoise.core.random import RowRandom, derive_seed, make_rng
from rlnoise.core.spec import NoiseSpec
from rlnoise.wrappers._box import BoxNoise, Seed
from rlnoise.wrappers._reach import check_env_spec

__all__ = [
    "BoxActionNoise",
    "BoxNoise",
    "RandomReplacement",
    "Seed",
    "StickyRepeats",
    "check_env_spec",
    "uniform_actions",
]


def _generator(seed: Seed, seed_key: tuple[Any, ...]) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return make_rng(None if seed is None else derive_seed(seed, *seed_key))


def _rows(rows: Sequence[int] | None, n_rows: int | None) -> list[int]:
    return list(range(1 if n_rows is None else n_rows)) if rows is None else list(rows)


class BoxActionNoise:
    """A spec's noise on Box actions, clipped back to the action bounds.

    Args:
        space: The Box action space.
        specs: One spec per row (``None``: that row stays clean); a single
            entry when ``n_rows`` is ``None``.
        n_rows: Batch size, or ``None`` for one env.
        seed_key: Keys mixed into int seeds.

    Raises:
        ValueError: As :class:`BoxNoise`.
    """

    def __init__(
        self,
        space: spaces.Box,
        specs: Sequence[NoiseSpec | None],
        *,
        n_rows: int | None,
        seed_key: tuple[Any, ...] = ("action",),
    ):
        self.noise = BoxNoise("action", space, specs, n_rows=n_rows, seed_key=seed_key)
        self.low = np.asarray(space.low)
        self.high = np.asarray(space.high)
        self.bounded = bool(np.any(space.bounded_below | space.bounded_above))
        self.dtype = space.dtype

    def reseed(self, seeds: Sequence[Seed], rows: Sequence[int] | None = None) -> None:
        """New generators for ``rows`` (all when ``None``); their episodes start over."""
        self.noise.reseed(seeds, rows)

    def apply(self, actions: Any) -> np.ndarray:
        """The noisy actions (one draw per row), clipped to the action space."""
        noisy = self.noise.apply(np.asarray(actions, dtype=self.dtype))
        if self.bounded:
            noisy = np.clip(noisy, self.low, self.high)
        return noisy


def replacement_width(space: gym.Space, where: str = "random_action") -> int:
    """Unit uniforms one random action of ``space`` takes (its number of components).

    Raises:
        ValueError: A space without a uniform distribution (unbounded Box, Dict...).
    """
    if isinstance(space, spaces.Discrete):
        return 1
    if isinstance(space, spaces.MultiDiscrete | spaces.MultiBinary):
        return int(np.prod(space.shape))
    if isinstance(space, spaces.Box):
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ValueError(f"{where} needs a bounded action space, got {space}")
        return int(np.prod(space.shape))
    raise ValueError(f"{where} does not support {space}")


def uniform_actions(space: gym.Space, u: np.ndarray) -> np.ndarray:
    """Uniform actions of ``space`` from unit uniforms ``u`` of shape ``(n, width)``.

    Example:
        >>> uniform_actions(spaces.Discrete(4), np.array([[0.0], [0.99]])).tolist()
        [0, 3]
    """
    n = u.shape[0]
    if isinstance(space, spaces.Discrete):
        index = np.minimum((u[:, 0] * space.n).astype(np.int64), space.n - 1)
        return (space.start + index).astype(space.dtype)
    if isinstance(space, spaces.MultiDiscrete):
        nvec = space.nvec.reshape(1, -1)
        index = np.minimum((u * nvec).astype(np.int64), nvec - 1)
        return (space.start.reshape(1, -1) + index).reshape(n, *space.shape).astype(space.dtype)
    if isinstance(space, spaces.MultiBinary):
        return (u < 0.5).reshape(n, *space.shape).astype(space.dtype)
    assert isinstance(space, spaces.Box)
    low = space.low.reshape(1, -1).astype(np.float64)
    high = space.high.reshape(1, -1).astype(np.float64)
    return (low + u * (high - low)).reshape(n, *space.shape).astype(space.dtype)


class RandomReplacement:
    """With probability ``p`` an action is replaced by a uniformly random one of the space.

    Each step draws, per row, unit uniforms in [0, 1): the coin (one; one per
    component with ``per_dimension``), then the coordinates of the random
    action (:func:`uniform_actions`), from the row's own generator, a block of
    steps per generator call (:class:`~rlnoise.core.blocks.UnitBlock`). A draw
    is made every step whether or not the action is replaced, so a row's
    draws never depend on the agent's actions.

    Args:
        space: Discrete, MultiDiscrete, MultiBinary, or a bounded Box.
        n_rows: Batch size, or ``None`` for one env.
        per_dimension: Replace each component on its own coin (multi-component spaces).
        seed_key: Keys mixed into int seeds.
        name: How errors name the perturbation.

    Raises:
        ValueError: A space without a uniform distribution.
    """

    def __init__(
        self,
        space: gym.Space,
        *,
        n_rows: int | None,
        per_dimension: bool = False,
        seed_key: tuple[Any, ...] = ("random_action",),
        name: str = "random_action",
    ):
        self.space = space
        self.n_rows = n_rows
        self.width = replacement_width(space, name)
        self.per_dimension = per_dimension
        self.coins = self.width if per_dimension else 1
        self.seed_key = tuple(seed_key)
        rngs: Any = make_rng(None) if n_rows is None else [make_rng(None) for _ in range(n_rows)]
        self.draws = UnitBlock(
            "dropout", (self.coins + self.width,), RowRandom(rngs, n_rows), np.float64
        )

    def reseed(self, seeds: Sequence[Seed], rows: Sequence[int] | None = None) -> None:
        """New generators for ``rows`` (all when ``None``)."""
        rngs = [_generator(seed, self.seed_key) for seed in seeds]
        if self.n_rows is None:
            self.draws.reset(None, rngs[0])
        else:
            self.draws.reset(None if rows is None else list(rows), rngs)

    def apply(
        self, actions: Any, rows: np.ndarray | None = None, *, probability: float
    ) -> np.ndarray:
        """The actions of ``rows`` with the replaced ones swapped in (draws one step for every row).

        Args:
            actions: The agent's actions: one action (``n_rows=None``) or one
                per row in ``rows``.
            rows: Rows the actions belong to (all when ``None``).
            probability: Replacement probability at this step.
        """
        draws = self.draws.step()
        if self.n_rows is None:
            return self._replace(np.asarray(actions)[None], draws[None], probability)[0]
        picked = draws if rows is None else draws[rows]
        return self._replace(np.asarray(actions), picked, probability)

    def _replace(self, actions: np.ndarray, draws: np.ndarray, probability: float) -> np.ndarray:
        coins, coordinates = draws[:, : self.coins], draws[:, self.coins :]
        replace = coins < probability
        if not replace.any():
            return actions
        if self.per_dimension:
            random = uniform_actions(self.space, coordinates)
            mask = replace.reshape(random.shape)
            return np.where(mask, random, actions).astype(self.space.dtype)
        whole = replace[:, 0]
        out = actions.copy()
        out[whole] = uniform_actions(self.space, coordinates[whole])
        return out


class _RowEnv(gym.Env):
    """What ``StickyAction`` reads of its env, for one row: the spaces and ``np_random``."""

    def __init__(self, action_space: gym.Space):
        self.action_space = action_space
        self.observation_space = spaces.Box(0.0, 0.0, (0,))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        return np.zeros(0), {}


class StickyRepeats:
    """Gymnasium's ``StickyAction`` for each row, drawing from the row's own generator.

    The previous action repeats with probability ``p`` (Machado et al., 2018),
    for ``duration`` steps. Each row runs an instance of
    ``gymnasium.wrappers.StickyAction`` itself, so the draws are its draws;
    only the generator differs: the row's, where the wrapper draws from the
    env's ``np_random`` (which would change the env's own randomness).

    Args:
        space: The action space.
        probability: Chance in [0, 1) that a repeat starts at a step.
        duration: Steps a repeat lasts: an int, or ``(low, high)`` drawn uniformly.
        n_rows: Batch size, or ``None`` for one env.
        seed_key: Keys mixed into int seeds.
    """

    def __init__(
        self,
        space: gym.Space,
        probability: float,
        duration: int | tuple[int, int] = 1,
        *,
        n_rows: int | None,
        seed_key: tuple[Any, ...] = ("sticky_action",),
    ):
        self.n_rows = n_rows
        self.seed_key = tuple(seed_key)
        self.rows = [
            StickyAction(_RowEnv(space), probability, duration)
            for _ in range(1 if n_rows is None else n_rows)
        ]

    def reseed(self, seeds: Sequence[Seed], rows: Sequence[int] | None = None) -> None:
        """Start ``rows`` (all when ``None``) afresh: no last action, new generators."""
        for row, seed in zip(_rows(rows, self.n_rows), seeds, strict=True):
            sticky = self.rows[row]
            sticky.reset()
            sticky.np_random = _generator(seed, self.seed_key)

    def apply(self, actions: Any, rows: np.ndarray | None = None) -> Any:
        """The executed actions of ``rows`` (all when ``None``): repeated or the agent's own."""
        if self.n_rows is None:
            return self.rows[0].action(np.array(actions, copy=True))
        out = np.array(actions, copy=True)
        for i, row in enumerate(_rows(None if rows is None else rows.tolist(), self.n_rows)):
            out[i] = self.rows[row].action(np.array(out[i], copy=True))
        return out
