"""Observation delay and action delay: the agent sees, or the env executes, what is ``k`` steps old.

Both wrappers run one engine, :class:`DelayLine` (also under the evaluation's
``obs_delay`` / ``action_delay`` conditions, one row per episode), a ring
buffer of the last ``max_delay + 1`` values per row.

What the first steps see:

- :class:`ObservationDelay`: at episode step ``t`` (0 = the reset
  observation) the agent gets the observation of step ``max(t - d, 0)``: the
  first ``d`` steps repeat the reset observation.
- :class:`ActionDelay`: at step ``t`` (0 = the first action) the env executes
  the action chosen at ``t - d``; while ``t < d`` it executes ``initial`` (by
  default the zero action clipped to the bounds for Box, ``start`` for
  Discrete / MultiDiscrete, zeros for MultiBinary).

``delay`` is a fixed ``k``, or ``[low, high]`` for a delay drawn uniformly
(integers, both ends included) once per episode (``resample="episode"``) or
at every step (``resample="step"``; observations may then arrive out of
order, as with a jittery sensor). ``delay=0`` is the identity (nothing drawn,
the trajectory unchanged). Draws come from the wrapper's generator, seeded from
the reset seed (``derive_seed(seed, "obs_delay")`` / ``"action_delay"``).

A single env's delay line keeps the observation objects the env returns (a
copy is made only where one object would be handed out twice): an env that
writes every observation into one reused buffer needs a copying wrapper inside
this one. Chosen actions are copied (callers reuse their action arrays).
Gymnasium's own ``DelayObservation`` returns zeros for the first steps and has
no random delay; these wrappers repeat the reset observation instead (no
out-of-distribution input) and share their engine with the evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.core import ActType, ObsType

from rlnoise.core.checks import check_choice, check_int, show
from rlnoise.core.random import derive_seed, make_rng

__all__ = [
    "ActionDelay",
    "DelayLine",
    "ObservationDelay",
    "check_delay",
    "default_action",
]

DELAY_RESAMPLE = ("episode", "step")
_BLOCK = 256  # random delays drawn per generator call
Seed = int | None | np.random.Generator


def check_delay(value: Any, where: str = "delay") -> int | tuple[int, int]:
    """A delay: an int >= 0, or ``[low, high]`` with ``0 <= low <= high``.

    Example:
        >>> check_delay([1, 3]), check_delay(2), check_delay([2, 2])
        ((1, 3), 2, 2)
    """
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise ValueError(f"{where} must be a step count or [low, high], got {show(value)}")
        low = check_int(f"{where}[0]", value[0], low=0)
        high = check_int(f"{where}[1]", value[1], low=low)
        return (low, high) if high > low else low
    return check_int(where, value, low=0)


def _check_space(space: gym.Space, where: str) -> None:
    if not isinstance(
        space, spaces.Box | spaces.Discrete | spaces.MultiDiscrete | spaces.MultiBinary
    ):
        raise ValueError(
            f"{where} needs a Box, Discrete, MultiDiscrete or MultiBinary space, got {space}"
        )


def default_action(space: gym.Space) -> np.ndarray:
    """What :class:`ActionDelay` executes before the first chosen action arrives.

    Example:
        >>> default_action(spaces.Box(1.0, 2.0, (2,))).tolist()
        [1.0, 1.0]
        >>> int(default_action(spaces.Discrete(3)))
        0
    """
    _check_space(space, "action delay")
    if isinstance(space, spaces.Box):
        return np.clip(np.zeros(space.shape), space.low, space.high).astype(space.dtype)
    if isinstance(space, spaces.Discrete | spaces.MultiDiscrete):
        return np.asarray(space.start, dtype=space.dtype)
    return np.zeros(tuple(space.shape or ()), dtype=np.dtype(space.dtype))


class DelayLine:
    """Per-row ring buffers that hand back the value pushed ``d`` steps ago.

    Args:
        delay: ``k`` or ``(low, high)`` (see :func:`check_delay`).
        resample: ``"episode"`` or ``"step"``: when a random delay is drawn.
        shape: Shape of one value.
        dtype: Its dtype.
        n_rows: Rows, or ``None`` for one unbatched value.
        seed_key: Keys mixed into int seeds (:func:`~rlnoise.core.random.derive_seed`).

    Example:
        >>> line = DelayLine(2, "episode", (), np.int64, n_rows=None, seed_key=("x",))
        >>> line.start(0)
        >>> [int(line.push(v)) for v in (1, 2, 3, 4)]
        [0, 0, 1, 2]
    """

    def __init__(
        self,
        delay: Any,
        resample: str,
        shape: tuple[int, ...],
        dtype: Any,
        *,
        n_rows: int | None,
        seed_key: tuple[Any, ...],
    ):
        self.delay = check_delay(delay)
        self.resample = check_choice("resample", resample, DELAY_RESAMPLE)
        self.random = isinstance(self.delay, tuple)
        high = self.delay[1] if isinstance(self.delay, tuple) else self.delay
        self.size = high + 1
        self.n_rows = n_rows
        self.seed_key = tuple(seed_key)
        rows = 1 if n_rows is None else n_rows
        self.buffer = np.zeros((rows, self.size, *shape), dtype=dtype)
        self.t = np.zeros(rows, dtype=np.int64)
        low = self.delay[0] if isinstance(self.delay, tuple) else self.delay
        self._d = np.full(rows, low, dtype=np.int64)
        self._rngs: list[np.random.Generator | None] = [None] * rows
        self._blocks: list[list[int] | None] = [None] * rows
        self._position = [0] * rows
        # Batched rows: the same blocks as one array, read for every row at once.
        self._table = np.zeros((rows, _BLOCK), dtype=np.int64)
        self._cursor = np.full(rows, _BLOCK, dtype=np.int64)  # _BLOCK: refill first
        self._all = np.arange(rows)
        # One env: a list of the values themselves and Python ints (numpy scalars cost more
        # than a CartPole step). The values are kept, not copied (see push).
        self._ring: list[Any] = [None] * self.size
        self._t1 = 0
        self._d1 = low
        self._per_step = self.random and self.resample == "step"
        self._g = 0  # pushes of every row at once (see push)

    @property
    def d(self) -> np.ndarray:
        """Each row's current delay."""
        return np.array([self._d1]) if self.n_rows is None else self._d

    def reseed(self, seeds: Sequence[Seed], rows: Sequence[int] | None = None) -> None:
        """New generators for ``rows`` (all when ``None``); call :meth:`start` next."""
        rows = list(range(len(self.t))) if rows is None else list(rows)
        for row, seed in zip(rows, seeds, strict=True):
            if isinstance(seed, np.random.Generator):
                self._rngs[row] = seed
            else:
                key = None if seed is None else derive_seed(seed, *self.seed_key)
                self._rngs[row] = make_rng(key)
            self._blocks[row] = None
            self._cursor[row] = _BLOCK

    def _draw(self, rows: Any) -> None:
        if self.n_rows is None:
            self._d1 = self._next(0)
            return
        index = self._all if rows is None else np.atleast_1d(np.asarray(rows, dtype=np.intp))
        cursor = self._cursor[index]
        spent = index[cursor == _BLOCK]
        for row in spent.tolist():  # one generator call per row and _BLOCK draws
            self._table[row] = self._block(row)
            self._cursor[row] = 0
        self._d[index] = self._table[index, self._cursor[index]]
        self._cursor[index] += 1

    def _block(self, row: int) -> np.ndarray:
        rng = self._rngs[row]
        if rng is None:
            rng = self._rngs[row] = make_rng(None)
        low, high = self.delay  # type: ignore[misc]
        return rng.integers(low, high, _BLOCK, endpoint=True)

    def _next(self, row: int) -> int:
        # Delays come in blocks of _BLOCK draws per row: one generator call per block.
        position = self._position[row]
        block = self._blocks[row]
        if block is None or position == len(block):
            block = self._blocks[row] = self._block(row).tolist()
            position = 0
        self._position[row] = position + 1
        return block[position]

    def start(self, fill: Any, rows: Sequence[int] | None = None, first_push: int = 1) -> None:
        """Episodes start for ``rows`` (all when ``None``): history filled with ``fill``.

        Args:
            fill: The value every delayed read returns until a pushed one is old
                enough: one value, or one per row in ``rows``.
            rows: Rows (all when ``None``).
            first_push: Step index of the next :meth:`push` (1 when ``fill`` is
                the reset observation, which is step 0; 0 for actions).
        """
        if self.n_rows is None:
            # Each slot its own copy: the value (a reset observation) was handed out already,
            # and every slot is read at most once while the delay is fixed.
            copy = isinstance(fill, np.ndarray)
            self._ring = [fill.copy() if copy else fill for _ in range(self.size)]
            self._t1 = first_push - 1
            if self.random and self.resample == "episode":
                self._draw(0)
            return
        index = self._all if rows is None else np.asarray(rows, dtype=np.intp)
        value = np.asarray(fill, dtype=self.buffer.dtype)
        if self.n_rows is not None and value.ndim == self.buffer.ndim - 1:
            value = value[:, None]  # one value per row
        self.buffer[index] = value
        self.t[index] = first_push - 1
        if self.random and self.resample == "episode":
            self._draw(index)

    def push(self, values: Any, rows: Any = None) -> Any:
        """Store this step's values of ``rows`` (all when ``None``); return their delayed ones.

        A caller pushes either every row at each step or lists the rows each
        time (the batched evaluation's live lanes), not a mix of the two.
        """
        if rows is not None:
            index = np.asarray(rows, dtype=np.intp)
            self.t[index] += 1
            if self._per_step:
                self._draw(index)
            slot = self.t[index] % self.size
            self.buffer[index, slot] = values
            return self.buffer[index, (self.t[index] - self._d[index]) % self.size]
        if self.n_rows is None:
            t = self._t1 = self._t1 + 1
            if self._per_step:
                self._draw(0)
            ring = self._ring
            ring[t % self.size] = values
            out = ring[(t - self._d1) % self.size]
            # A delay redrawn per step may hand out a value twice: give a copy each time.
            return out.copy() if self._per_step and isinstance(out, np.ndarray) else out
        # Every row at once: one step counter for the whole buffer (a row's start fills all
        # its slots, so any slot not pushed since holds the fill), plain slices when the
        # delay is fixed.
        g = self._g = self._g + 1
        self.buffer[:, g % self.size] = values
        if not self.random:
            fixed = int(self.delay)  # type: ignore[arg-type]
            return self.buffer[:, (g - fixed) % self.size].copy()
        if self._per_step:
            self._draw(None)
        return self.buffer[self._all, (g - self._d) % self.size]


class ObservationDelay(
    gym.Wrapper[ObsType, ActType, ObsType, ActType], gym.utils.RecordConstructorArgs
):
    """The agent sees the observation of ``d`` steps ago (the reset one until then).

    Example:
        >>> env = ObservationDelay(gym.make("CartPole-v1"), 1)
        >>> obs0, _ = env.reset(seed=0)
        >>> obs1 = env.step(0)[0]
        >>> bool(np.array_equal(obs0, obs1))  # step 1 shows the reset observation
        True

    Args:
        env: The env (Box, Discrete, MultiDiscrete or MultiBinary observations).
        delay: ``k``, or ``[low, high]`` drawn per episode or per step.
        resample: ``"episode"`` or ``"step"`` (a random delay's redraw).

    Raises:
        ValueError: A negative or malformed delay, an unknown ``resample``, a
            Dict/Tuple observation space.
    """

    def __init__(self, env: gym.Env[ObsType, ActType], delay: Any, resample: str = "episode"):
        gym.utils.RecordConstructorArgs.__init__(
            self, delay=list(delay) if isinstance(delay, tuple) else delay, resample=resample
        )
        gym.Wrapper.__init__(self, env)
        space = env.observation_space
        _check_space(space, "observation delay")
        self.line = DelayLine(
            delay,
            resample,
            tuple(space.shape or ()),
            space.dtype,
            n_rows=None,
            seed_key=("obs_delay",),
        )
        self._off = self.line.delay == 0
        self.noise_enabled = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset; the history is filled with the reset observation."""
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self.line.reseed([seed])
        self.line.start(obs)
        return obs, info

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step; return the observation of ``d`` steps ago."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._off or not self.noise_enabled:
            return obs, reward, terminated, truncated, info
        return self.line.push(obs), reward, terminated, truncated, info


class ActionDelay(gym.Wrapper[ObsType, ActType, ObsType, ActType], gym.utils.RecordConstructorArgs):
    """The env executes the action chosen ``d`` steps ago (``initial`` until then).

    The agent's chosen action is what SB3 stores; only the executed one is late.

    Example:
        >>> env = ActionDelay(gym.make("CartPole-v1"), 2)
        >>> _ = env.reset(seed=0)
        >>> executed = [env.step(a)[4]["executed_action"] for a in (1, 1, 0)]
        >>> [int(a) for a in executed]
        [0, 0, 1]

    Args:
        env: The env (Box, Discrete, MultiDiscrete or MultiBinary actions).
        delay: ``k``, or ``[low, high]`` drawn per episode or per step.
        resample: ``"episode"`` or ``"step"``.
        initial: The action executed before the first chosen one arrives
            (default :func:`default_action`); must be in the action space.

    Raises:
        ValueError: As :class:`ObservationDelay`, or an ``initial`` outside the space.
    """

    def __init__(
        self,
        env: gym.Env[ObsType, ActType],
        delay: Any,
        resample: str = "episode",
        initial: Any = None,
    ):
        gym.utils.RecordConstructorArgs.__init__(
            self,
            delay=list(delay) if isinstance(delay, tuple) else delay,
            resample=resample,
            initial=None if initial is None else np.asarray(initial).tolist(),
        )
        gym.Wrapper.__init__(self, env)
        space = env.action_space
        _check_space(space, "action delay")
        fill = default_action(space) if initial is None else np.asarray(initial, dtype=space.dtype)
        if not space.contains(fill if fill.ndim else fill.item()):
            raise ValueError(f"initial must be an action of {space}, got {show(initial)}")
        self.initial = fill
        self._initial = fill if fill.ndim else fill.item()  # what the env is given
        self.line = DelayLine(
            delay,
            resample,
            tuple(space.shape or ()),
            space.dtype,
            n_rows=None,
            seed_key=("action_delay",),
        )
        self._off = self.line.delay == 0
        self.noise_enabled = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset; the pending actions are forgotten (``initial`` again)."""
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self.line.reseed([seed])
        self.line.start(self._initial, first_push=0)
        return obs, info

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Queue ``action``; run the one chosen ``d`` steps ago (``info["executed_action"]``)."""
        if self._off or not self.noise_enabled:
            return self.env.step(action)
        # The agent's array may be reused by its caller: keep a copy.
        executed = self.line.push(action.copy() if isinstance(action, np.ndarray) else action)
        obs, reward, terminated, truncated, info = self.env.step(executed)
        info["executed_action"] = executed
        return obs, reward, terminated, truncated, info
