"""Shared pieces for the wrapper tests: expected noise from the owned streams, small real envs.

Module level (not inside test files) so that SubprocVecEnv workers can import them by name.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rlnoise.core.random import derive_seed, make_rng


def white(
    seed: int, key: tuple[Any, ...], shape: tuple[int, ...], n: int, scale: float
) -> np.ndarray:
    """The first ``n`` Gaussian draws a wrapper seeded with ``seed`` hands out (float32).

    Blocks of 256 steps are consecutive draws of one generator, so ``n`` steps
    are one draw of ``(n, *shape)`` from the same generator, scaled in float32.
    """
    rng = make_rng(derive_seed(seed, *key))
    return rng.standard_normal((n, *shape), dtype=np.float32) * np.float32(scale)


def unit(seed: int, key: tuple[Any, ...], shape: tuple[int, ...], n: int) -> np.ndarray:
    """Unscaled standard normals of the same stream (for scheduled scales)."""
    return white(seed, key, shape, n, 1.0)


class TextObservationEnv(gym.Env):
    """A real (tiny) env whose observations are strings, to exercise the bad-input path."""

    observation_space = gym.spaces.Text(8)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        return "start", {}

    def step(self, action: Any):
        return "step", 0.0, False, False, {}


class MultiDiscreteEcho(gym.Env):
    """Observes the action it executed last: shows what a wrapper passed down."""

    action_space = gym.spaces.MultiDiscrete([3, 5, 7])
    observation_space = gym.spaces.MultiDiscrete([3, 5, 7])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        return np.zeros(3, np.int64), {}

    def step(self, action: Any):
        return np.asarray(action, np.int64).copy(), 0.0, False, False, {}
