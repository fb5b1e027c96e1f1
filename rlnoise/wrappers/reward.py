"""``RewardNoise``: noise from a :class:`~rlnoise.NoiseSpec` on the reward the agent learns from.

A model of a noisy reward signal (a learned or measured reward). The noise
goes through :class:`~rlnoise.wrappers.engines.BoxNoise` on a scalar, the
engine under the observation and action wrappers, so every kind, schedule,
``clip=[low, high]`` and envelope works; episode step 0 of an envelope is the
reward of the first step. ``multiplicative`` mode scales the reward
(``r * (1 + noise)``). ``info["clean_reward"]`` keeps the true reward, so a
``Monitor`` outside this wrapper logs the noisy return and one inside it the
true one.

Randomness: the wrapper's own generator, reseeded from ``reset(seed=s)`` with
``derive_seed(s, "reward")``.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.core import ActType, ObsType

from rlnoise.core.spec import NoiseSpec, NoiseSpecLike, as_noise_spec
from rlnoise.wrappers._chain import forward_noise_step, inner_noise_scales
from rlnoise.wrappers._switch import NoiseSwitch
from rlnoise.wrappers.engines import BoxNoise

__all__ = ["RewardNoise", "reward_noise_engine"]

REWARD_BOX = spaces.Box(-np.inf, np.inf, shape=(), dtype=np.float64)


def reward_noise_engine(spec: NoiseSpecLike, n_rows: int | None, where: str = "reward") -> BoxNoise:
    """The engine of reward noise: a spec on float64 scalars (one per row).

    Raises:
        ValueError: Kinds that need bounds (``salt_pepper`` without ``values``),
            ``clip="space"`` or ``relative_to="range"`` (a reward has no range).
    """
    spec = as_noise_spec(spec)
    if spec.clip == "space" or spec.relative_to == "range":
        raise ValueError(
            f"{where}: a reward has no space bounds; use clip=[low, high], no relative_to"
        )
    specs: list[NoiseSpec | None] = [spec] * (1 if n_rows is None else n_rows)
    return BoxNoise(where, REWARD_BOX, specs, n_rows=n_rows, seed_key=("reward",))


class RewardNoise(
    NoiseSwitch, gym.Wrapper[ObsType, ActType, ObsType, ActType], gym.utils.RecordConstructorArgs
):
    """Adds noise described by a spec to every reward.

    Example:
        >>> env = RewardNoise(gym.make("CartPole-v1"), "gaussian:0.5")
        >>> _ = env.reset(seed=0)
        >>> _, reward, _, _, info = env.step(0)
        >>> reward != 1.0, info["clean_reward"]
        (True, 1.0)

    Args:
        env: The env.
        spec: A spec, its compact string or its dict.

    Raises:
        ValueError: As :func:`reward_noise_engine`, or spec fields env wrappers
            cannot honour (``phases``, ``where``, ``adaptive``...).
    """

    def __init__(self, env: gym.Env[ObsType, ActType], spec: NoiseSpecLike):
        gym.utils.RecordConstructorArgs.__init__(
            self, spec=spec.to_dict() if isinstance(spec, NoiseSpec) else spec
        )
        gym.Wrapper.__init__(self, env)
        self.noise = reward_noise_engine(spec, None)
        self._draw = self.noise.draw  # one draw to add (white additive noise), else None
        self._init_noise_switch()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset; a seed reseeds the noise, otherwise the stream continues."""
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self.noise.reseed([seed])
        else:
            self.noise.restart()
        return obs, info

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step; the reward gets noise, ``info["clean_reward"]`` keeps the true one."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        if not self._noise_enabled:
            return obs, reward, terminated, truncated, info
        self._steps += 1
        if self._local_clock and self.noise.scheduled:
            self.noise.set_step(self._steps)
        info["clean_reward"] = reward
        draw = self._draw
        noisy = reward + draw() if draw is not None else self.noise.apply(np.float64(reward))
        return obs, float(noisy), terminated, truncated, info

    def set_noise_step(self, step: int) -> None:
        """Drive the schedule from an outside clock (the own step count stops counting)."""
        self._local_clock = False
        self.noise.set_step(step)
        forward_noise_step(self.env, step)

    def noise_scales(self) -> dict[str, float]:
        """``reward``: the current effective scale (0 while off), with inner sources' scales."""
        scales = inner_noise_scales(self.env)
        scales["reward"] = self.noise.scales() if self._noise_enabled else 0.0
        return scales
