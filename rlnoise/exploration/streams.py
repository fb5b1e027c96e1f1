"""``ExplorationStreams``: one seeded noise stream per environment, drawn once per vector step.

Exploration noise in SB3 is drawn once per step of the vector env, one row per
sub-environment, and restarted per sub-environment when its episode ends. That
is what this object does, for any continuous kind of :class:`~rlnoise.NoiseSpec`
(``gaussian``, ``uniform``, ``laplace``, ``ou``, ``colored`` with any ``beta``),
on top of the core engine's :class:`~rlnoise.core.stream.NoiseStream`:

- env ``i`` draws from its own ``np.random.Generator`` seeded with
  ``derive_seed(seed, "exploration", i)``, so its noise does not depend on how
  many other envs there are or on when they end their episodes;
- :meth:`ExplorationStreams.reset` restarts the rows of the envs whose episode
  ended (``ou``: state back to 0, as SB3's ``OrnsteinUhlenbeckActionNoise``;
  ``colored``: a fresh ``length``-step sequence; white kinds: nothing to
  restart) and keeps each env's generator going;
- :meth:`ExplorationStreams.episode_ends` does the restarts for a Gymnasium
  vector env in any autoreset mode (``NextStep``: one step later, when the
  sub-env has actually reset);
- the schedule reads a step count, by default the number of draws, or an outside
  clock through :meth:`set_noise_step` (:class:`~rlnoise.core.clock.NoiseSource`).

Example:
    >>> streams = ExplorationStreams("colored:1,beta=1,length=999", action_dim=2, n_envs=3, seed=0)
    >>> streams.sample().shape  # one row per env
    (3, 2)
    >>> streams.reset([1])  # env 1's episode ended: it starts a new pink sequence
    >>> check_exploration_spec("dropout:0.1")
    Traceback (most recent call last):
    ...
    ValueError: exploration noise must be one of the continuous kinds ['gaussian', 'uniform', \
'laplace', 'ou', 'colored'], got 'dropout'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from rlnoise.core.checks import check_int, show
from rlnoise.core.kinds import CONTINUOUS_KINDS
from rlnoise.core.random import derive_seed, make_rng, resolve_seed
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike, as_noise_spec
from rlnoise.core.stream import NoiseStream

__all__ = ["SEED_KEY", "ExplorationStreams", "check_exploration_spec"]

#: Derivation key of the per-env generators: ``derive_seed(seed, SEED_KEY, env_index)``.
SEED_KEY = "exploration"
_AUTORESET_MODES = ("NextStep", "SameStep", "Disabled")  # gymnasium.vector.AutoresetMode values


def check_exploration_spec(spec: NoiseSpecLike) -> NoiseSpec:
    """The spec as a :class:`~rlnoise.NoiseSpec` if it can be exploration noise, else raise.

    Exploration noise is added to an action (SB3 adds it, then clips to the
    action space) or is the Gaussian's standard normal draw, so only the
    continuous kinds in ``additive`` mode make sense; bounds, masks and
    policy-side fields do not.

    Raises:
        ValueError: One line naming the field and its value.
    """
    spec = as_noise_spec(spec)
    if spec.kind not in CONTINUOUS_KINDS:
        raise ValueError(
            f"exploration noise must be one of the continuous kinds {list(CONTINUOUS_KINDS)}, "
            f"got {spec.kind!r}"
        )
    if spec.mode != "additive":
        raise ValueError(
            f"exploration noise is additive: mode must be 'additive', got {spec.mode!r}"
        )
    if spec.relative_to is not None:
        raise ValueError(
            "relative_to must be null for exploration noise (its scale is in the units SB3 adds "
            f"it in: the [-1, 1] action range, or the Gaussian's std), got {spec.relative_to!r}"
        )
    if spec.clip is not None:
        raise ValueError(
            f"clip must be null for exploration noise (SB3 clips the noisy action to the action "
            f"space itself), got {show(spec.clip)}"
        )
    if spec.phases is not None and "rollout" not in spec.phases:
        raise ValueError(
            f"exploration noise acts while collecting rollouts: phases must include 'rollout', "
            f"got {list(spec.phases)}"
        )
    if spec.resample not in (None, "step"):
        raise ValueError(
            "exploration noise is drawn every step (correlation over time comes from the kind: "
            f"ou, colored): resample must be null or 'step', got {show(spec.resample)}"
        )
    if spec.where:
        raise ValueError(
            f"where selects network parameters; exploration noise has none, got {list(spec.where)}"
        )
    if spec.adaptive is not None:
        raise ValueError("adaptive must be null for exploration noise")
    return spec


class ExplorationStreams:
    """Noise of one spec for ``n_envs`` environments, each from its own seeded generator.

    Args:
        spec: The noise (spec, dict or compact string); see :func:`check_exploration_spec`.
        action_dim: Length of one env's action (a per-dimension scale must broadcast to it).
        n_envs: Number of environments (rows).
        seed: Base seed; env ``i`` draws from ``derive_seed(seed, "exploration", i)``.
            ``None`` takes one from OS entropy (kept in :attr:`seed`).
        dtype: Float dtype of the draws.

    Attributes:
        seed: The base seed in use.
        stream: The engine's :class:`~rlnoise.core.stream.NoiseStream` (per-row generators).
        last: The latest draw, shape ``(n_envs, action_dim)`` (``None`` before the first);
            do not modify it.
    """

    def __init__(
        self,
        spec: NoiseSpecLike,
        action_dim: int,
        n_envs: int = 1,
        seed: int | None = None,
        dtype: Any = np.float32,
    ):
        self.spec = check_exploration_spec(spec)
        self.action_dim = check_int("action_dim", action_dim, low=1)
        self.n_envs = check_int("n_envs", n_envs, low=1)
        self.seed = resolve_seed(None if seed is None else check_int("seed", seed))
        rngs = [make_rng(derive_seed(self.seed, SEED_KEY, env)) for env in range(self.n_envs)]
        self.stream = NoiseStream(self.spec, (self.action_dim,), rngs, dtype=dtype)
        # White noise at a constant scale: the engine's prescaled block hand-out, no per-step
        # multiply (the stream's step count is then never read, so it need not advance).
        self._draw = self.stream.sampler
        self.last: np.ndarray | None = None
        self._pending: np.ndarray | None = None  # NextStep: ended last step, reset by this one

    def sample(self) -> np.ndarray:
        """The next draw of every env, shape ``(n_envs, action_dim)`` (do not modify it)."""
        self.last = self._draw()
        return self.last

    def reset(self, indices: Iterable[int] | None = None) -> None:
        """Restart the noise of envs ``indices`` (all when ``None``): their episode ended.

        Raises:
            ValueError: An index outside ``[0, n_envs)`` (the streams were built
                for fewer envs than the training env has).
        """
        if indices is None:
            self.stream.reset(None)
            self._pending = None  # every sub-env was reset: no autoreset outstanding
            return
        rows = [int(index) for index in indices]
        for row in rows:
            if not 0 <= row < self.n_envs:
                raise ValueError(
                    f"env index {row} is outside the {self.n_envs} exploration streams: build "
                    f"them with n_envs equal to the training env's number of envs"
                )
        if rows:
            self.stream.reset(rows)

    def episode_ends(
        self, terminated: Any, truncated: Any, autoreset_mode: Any = "NextStep"
    ) -> None:
        """Restart the rows of a Gymnasium vector env's episodes, after its ``step()``.

        Where the restart goes depends on the vector env's autoreset mode (its
        ``metadata["autoreset_mode"]``), so that in every mode the first action an
        episode acts on gets the first draw of its restarted noise:

        - ``NextStep`` (Gymnasium's default): the sub-env that ended at this step
          resets during the *next* ``step()``, which ignores its action; its row
          restarts after that step. The ignored action's draw is the old
          episode's continuation (for white noise and ``ou`` it still uses the
          row's generator; for ``colored`` it is the old sequence's next value);
        - ``SameStep`` and ``Disabled`` (you reset the ended sub-envs before the
          next step): the rows restart now, as SB3's ``VecEnv`` (same-step reset)
          does through :meth:`reset`.

        Args:
            terminated: The step's ``terminations``, one bool per env.
            truncated: The step's ``truncations``.
            autoreset_mode: A ``gymnasium.vector.AutoresetMode`` or its value.

        Raises:
            ValueError: An unknown autoreset mode, or flags that are not one per env.

        Example:
            >>> import gymnasium as gym
            >>> envs = gym.make_vec("Pendulum-v1", num_envs=2, vectorization_mode="sync")
            >>> streams = ExplorationStreams("ou:0.3", action_dim=1, n_envs=2, seed=0)
            >>> _ = envs.reset(seed=0)
            >>> for _ in range(3):
            ...     noise = streams.sample()
            ...     _, _, terminated, truncated, _ = envs.step(np.clip(noise, -2, 2))
            ...     streams.episode_ends(terminated, truncated, envs.metadata["autoreset_mode"])
        """
        mode = str(getattr(autoreset_mode, "value", autoreset_mode))
        if mode not in _AUTORESET_MODES:
            raise ValueError(
                f"autoreset_mode must be one of {list(_AUTORESET_MODES)}, got {autoreset_mode!r}"
            )
        flags = {"terminated": np.asarray(terminated), "truncated": np.asarray(truncated)}
        for name, value in flags.items():
            if value.shape != (self.n_envs,):
                raise ValueError(
                    f"{name} must hold one flag per env ({self.n_envs}), got shape {value.shape}"
                )
        ended = flags["terminated"] | flags["truncated"]
        if mode == "NextStep":
            # The rows that ended at the previous step were reset during this one.
            restarted, self._pending = getattr(self, "_pending", None), ended
        else:
            restarted = ended
        if restarted is not None and restarted.any():
            self.reset(np.flatnonzero(restarted))

    # -- NoiseSource ---------------------------------------------------------------------------
    def set_noise_step(self, step: int) -> None:
        """Read the schedule at ``step`` (an outside clock, e.g. the model's ``num_timesteps``)."""
        self.stream.set_step(step)

    def noise_scales(self) -> dict[str, float]:
        """The scale the next draw uses (the mean over dimensions for a per-dimension scale)."""
        return {"exploration": float(np.mean(self.stream.scale))}

    def __repr__(self) -> str:
        return (
            f"ExplorationStreams({str(self.spec)!r}, action_dim={self.action_dim}, "
            f"n_envs={self.n_envs}, seed={self.seed})"
        )
