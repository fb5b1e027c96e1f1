"""``ObservationNoise``: noise from a :class:`~rlnoise.NoiseSpec` on every observation of one env.

For vector envs use the batched versions instead of wrapping every sub-env:
:class:`rlnoise.wrappers.vector.ObservationNoise` (Gymnasium ``VectorEnv``) and
:class:`rlnoise.wrappers.VecObservationNoise` (SB3 ``VecEnv``). Wrapping each
sub-env (``make_vec_env(..., wrapper_class=ObservationNoise)``) works too: every
sub-env derives its own stream from its own reset seed.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.core import ActType, ObsType

from rlnoise.wrappers._chain import forward_noise_step, inner_noise_scales
from rlnoise.wrappers._switch import NoiseSwitch
from rlnoise.wrappers._tree import SpaceNoise, SpecTree, plain_tree

__all__ = ["ObservationNoise"]


class ObservationNoise(
    NoiseSwitch,
    gym.ObservationWrapper[ObsType, ActType, ObsType],
    gym.utils.RecordConstructorArgs,
):
    """Adds noise described by a spec to every observation (reset and step).

    - Box observations of any shape and dtype. Integer observations (uint8
      images) get the noise in float, then are rounded, clipped to the dtype's
      range (or to the space with ``clip="space"``) and returned in their dtype.
    - Dict and Tuple observations: one spec for every Box leaf, or a spec per
      key / index (``{"pos": "gaussian:0.1"}``); keys without a spec pass through.
    - ``observation_space`` is widened to what the noise can reach (unbounded for
      Gaussian noise, by the half-width for uniform noise) unless the spec clips
      to the space (``"gaussian:0.1,clip=space"``), so ``check_env`` passes.
    - Randomness: the wrapper owns its generator. ``reset(seed=s)`` reseeds it
      from ``derive_seed(s, "observation", ...)`` — a stream the env never uses, so
      the env's trajectory for the same actions is the same as without the
      wrapper. ``reset()`` without a seed takes OS entropy the first time and
      continues the stream afterwards, as Gymnasium envs do.
    - Stateful kinds (``ou``, ``colored``) restart with every episode; a spec with
      ``resample="episode"`` (or a step count) holds one draw that long.
    - The schedule reads the wrapper's step count, or the step set by
      :meth:`set_noise_step` (a shared training clock).
    - :attr:`noise_enabled` switches the noise off and on (e.g. to evaluate the
      same env object clean); while off no noise is drawn.
    - Observations that are not finite pass through unchanged.

    Example:
        >>> import gymnasium as gym
        >>> import numpy as np
        >>> env = ObservationNoise(gym.make("CartPole-v1"), "gaussian:0.1")
        >>> obs, _ = env.reset(seed=0)
        >>> clean, _ = gym.make("CartPole-v1").reset(seed=0)
        >>> bool(np.all(obs != clean)), obs.dtype
        (True, dtype('float32'))
        >>> env.observation_space.high.tolist()
        [inf, inf, inf, inf]
        >>> env.noise_enabled = False
        >>> bool(np.array_equal(env.reset(seed=0)[0], clean))
        True

    Args:
        env: The environment to wrap.
        spec: A :class:`~rlnoise.NoiseSpec`, a compact string (``"gaussian:0.1"``),
            a dict, or for Dict/Tuple observations a mapping key -> spec (or a
            list, one per Tuple entry).

    Raises:
        ValueError: Discrete, Text and other non-Box observation spaces; a
            per-dimension scale that does not broadcast to the observation
            shape; a key the Dict space does not have; spec fields an env
            wrapper cannot honour (``phases``, ``where``, ``adaptive``,
            ``relative_to="std"``, ``resample="rollout"|"update"``).
    """

    def __init__(self, env: gym.Env[ObsType, ActType], spec: SpecTree):
        self.noise = SpaceNoise(
            env.observation_space,
            [spec],
            n_rows=None,
            seed_key=("observation",),
            name="observation",
        )
        gym.utils.RecordConstructorArgs.__init__(self, spec=plain_tree(spec))
        gym.ObservationWrapper.__init__(self, env)
        self.observation_space = self.noise.output_space
        self._apply = self.noise.apply
        # Set when a step is one draw and one add: the stream hands out pre-scaled rows.
        self._draw = self.noise.draw
        self._init_noise_switch()

    def _noise_switched(self) -> None:
        # The fast path of step(): noise on, one white-noise draw, no schedule to clock.
        self._hot = self._noise_enabled and self._draw is not None and not self.noise.scheduled

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset the env; a seed reseeds the noise, otherwise the stream continues."""
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self.noise.reseed([seed])
        else:
            self.noise.restart()
        return self.observation(obs), info

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env and add noise to the observation."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._hot:  # constant white noise: no step count to keep, one draw and one add
            return obs + self._draw(), reward, terminated, truncated, info  # type: ignore[misc]
        self._steps += 1
        if self._local_clock and self.noise.scheduled:
            self.noise.set_step(self._steps)
        if self._noise_enabled:
            obs = self._apply(obs)
        return obs, reward, terminated, truncated, info

    def observation(self, observation: ObsType) -> ObsType:
        """The noisy observation (unchanged while :attr:`noise_enabled` is False)."""
        return self._apply(observation) if self._noise_enabled else observation

    def set_noise_step(self, step: int) -> None:
        """Drive the schedule from an outside clock (the local step count stops counting).

        The step is forwarded to the next noise source inside this wrapper, so a
        chain of noise wrappers in a ``SubprocVecEnv`` worker follows one call.
        """
        self._local_clock = False
        self.noise.set_step(step)
        forward_noise_step(self.env, step)

    def noise_scales(self) -> dict[str, float]:
        """Current effective scale per noisy leaf (0 while off), with inner sources' scales."""
        scales = inner_noise_scales(self.env)
        own = self.noise.scales()
        scales.update(own if self._noise_enabled else dict.fromkeys(own, 0.0))
        return scales
