"""``SpecActionNoise``: any noise spec as SB3 action noise for TD3 and DDPG (and SAC on top).

SB3's off-policy algorithms add ``action_noise()`` to the policy's action
scaled to [-1, 1], clip, and call ``action_noise.reset(indices=[i])`` when env
``i`` ends an episode (``reset()`` without indices for one env, and at the start
of every ``learn()``). ``SpecActionNoise`` answers both from
:class:`~rlnoise.exploration.streams.ExplorationStreams`: one seeded stream per
env, so the scale is in the [-1, 1] units of SB3's ``NormalActionNoise(sigma)``.

It is a :class:`~stable_baselines3.common.noise.VectorizedActionNoise` so that
SB3 does not wrap it in one: SB3's wrapper deep-copies a single noise once per
env, which would copy its generator too and give every env the same draws.
It is also a :class:`~rlnoise.core.clock.NoiseSource` (a shared clock such as
``NoiseScheduleCallback`` finds it as the model's ``action_noise``) and
pickles with the model: ``model.save()`` / ``load()`` continue its streams where
they stood.

Example:
    >>> from stable_baselines3 import TD3
    >>> noise = SpecActionNoise("colored:0.3,beta=1,length=200", action_dim=1, seed=0)
    >>> model = TD3("MlpPolicy", "Pendulum-v1", action_noise=noise, learning_starts=0,
    ...             device="cpu", seed=0)
    >>> _ = model.learn(20)
    >>> noise().shape  # (n_envs, action_dim)
    (1, 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.noise import ActionNoise, VectorizedActionNoise

from rlnoise.core.spec import NoiseSpec, NoiseSpecLike
from rlnoise.exploration.streams import ExplorationStreams

__all__ = ["SpecActionNoise", "action_dim_of"]


def action_dim_of(action_space: Any) -> int:
    """The length of a flat ``Box`` action (or ``action_dim`` itself when given an int).

    Raises:
        ValueError: Not a ``Box`` with a one-dimensional shape, nor a positive int.
    """
    if isinstance(action_space, spaces.Box):
        if len(action_space.shape) != 1:
            raise ValueError(
                f"exploration noise needs a flat Box action space, got shape {action_space.shape}"
            )
        return int(action_space.shape[0])
    if isinstance(action_space, int | np.integer) and not isinstance(action_space, bool):
        return int(action_space)
    raise ValueError(
        f"action_dim must be an int or a Box action space, got {type(action_space).__name__} "
        f"{action_space!r}; exploration noise is for continuous (Box) actions"
    )


class SpecActionNoise(VectorizedActionNoise):
    """Action noise from a :class:`~rlnoise.NoiseSpec`, one seeded stream per env.

    Args:
        spec: The noise: ``"gaussian:0.1"`` (SB3's ``NormalActionNoise(0, 0.1)``),
            ``"ou:0.2"`` (``OrnsteinUhlenbeckActionNoise(0, 0.2)``, theta 0.15,
            dt 0.01), ``"colored:0.3,beta=1,length=1000"`` (pink noise whose
            sequences last one episode of up to 1000 steps), ``beta=2`` (red), ...
        action_dim: Length of the action, or the ``Box`` action space.
        n_envs: Number of envs of the training VecEnv.
        seed: Base seed (env ``i`` draws from ``derive_seed(seed, "exploration", i)``);
            ``None``: OS entropy.

    Raises:
        ValueError: A spec that cannot be exploration noise
            (:func:`~rlnoise.exploration.streams.check_exploration_spec`), a bad
            ``action_dim`` or ``n_envs``; at the first episode end, an env index
            beyond ``n_envs``.
    """

    def __init__(
        self,
        spec: NoiseSpecLike,
        action_dim: Any,
        *,
        n_envs: int = 1,
        seed: int | None = None,
    ):
        # VectorizedActionNoise.__init__ deep-copies a base noise per env; each env
        # here has its own stream instead, so only the ActionNoise base is initialised.
        ActionNoise.__init__(self)
        self.streams = ExplorationStreams(spec, action_dim_of(action_dim), n_envs, seed)
        self.n_envs = self.streams.n_envs

    @classmethod
    def from_streams(cls, streams: ExplorationStreams) -> SpecActionNoise:
        """Action noise drawing from ``streams`` (shared, not copied)."""
        noise = cls.__new__(cls)
        ActionNoise.__init__(noise)
        noise.streams = streams
        noise.n_envs = streams.n_envs
        return noise

    @property
    def spec(self) -> NoiseSpec:
        """The validated noise spec."""
        return self.streams.spec

    @property
    def seed(self) -> int:
        """The base seed in use."""
        return self.streams.seed

    def __call__(self) -> np.ndarray:
        """The next noise of every env, shape ``(n_envs, action_dim)`` (do not modify it)."""
        return self.streams.sample()

    def reset(self, indices: Iterable[int] | None = None) -> None:
        """Restart the noise of envs ``indices`` (all when ``None``)."""
        self.streams.reset(indices)

    def episode_ends(
        self, terminated: Any, truncated: Any, autoreset_mode: Any = "NextStep"
    ) -> None:
        """Restart the noise after a Gymnasium vector env's step (any autoreset mode).

        See :meth:`~rlnoise.exploration.streams.ExplorationStreams.episode_ends`;
        SB3's algorithms call :meth:`reset` themselves.
        """
        self.streams.episode_ends(terminated, truncated, autoreset_mode)

    # SB3's VectorizedActionNoise keeps one copied noise per env under these names; there is
    # no such copy here, and nothing in SB3 reads them outside that class.
    @property  # type: ignore[misc]
    def base_noise(self) -> ActionNoise:
        """This object (each env's noise is a row of :attr:`streams`, not a copy)."""
        return self

    @property  # type: ignore[misc]
    def noises(self) -> list[ActionNoise]:
        """This object once (its rows are the envs' noises)."""
        return [self]

    # -- NoiseSource ---------------------------------------------------------------------------
    def set_noise_step(self, step: int) -> None:
        """Read the schedule at ``step`` (a shared clock's count)."""
        self.streams.set_noise_step(step)

    def noise_scales(self) -> dict[str, float]:
        """The scale the next draw uses."""
        return self.streams.noise_scales()

    def __repr__(self) -> str:
        return f"SpecActionNoise({str(self.spec)!r}, n_envs={self.n_envs}, seed={self.seed})"
