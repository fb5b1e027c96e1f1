"""Real Dict-observation envs for the evaluation tests: a Box state split into keys.

``make_dict_cartpole`` gives CartPole's 4-vector as ``{"position": [x, theta],
"velocity": [x_dot, theta_dot]}``; ``make_bucket_cartpole`` adds ``"bucket"``,
the cart position binned into a uint8 (an integer key, as an image key is);
``make_dict_pendulum`` splits Pendulum's ``[cos, sin, thdot]`` into
``{"angle": [cos, sin], "speed": [thdot]}`` (continuous actions).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class SplitObservation(gym.ObservationWrapper):
    """A Box observation as a Dict of Box slices of it.

    Args:
        env: An env with a flat Box observation space.
        keys: Key -> indices of the observation vector.
        bucket: Also give ``"bucket"``: element 0 binned into a uint8 over ``[-2.4, 2.4]``.
    """

    def __init__(self, env: gym.Env, keys: dict[str, list[int]], bucket: bool = False):
        super().__init__(env)
        low = np.asarray(env.observation_space.low, dtype=np.float32)
        high = np.asarray(env.observation_space.high, dtype=np.float32)
        self.keys = keys
        subspaces: dict[str, spaces.Space] = {
            k: spaces.Box(low[i], high[i], dtype=np.float32) for k, i in keys.items()
        }
        self.bucket = bucket
        if bucket:
            subspaces["bucket"] = spaces.Box(0, 255, (1,), dtype=np.uint8)
        self.observation_space = spaces.Dict(subspaces)

    def observation(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        out = {k: observation[i] for k, i in self.keys.items()}
        if self.bucket:
            binned = np.clip((observation[0] + 2.4) / 4.8 * 255, 0, 255)
            out["bucket"] = np.array([binned], dtype=np.uint8)
        return out


CARTPOLE_KEYS = {"position": [0, 2], "velocity": [1, 3]}


def make_dict_cartpole(**kwargs: Any) -> gym.Env:
    """CartPole-v1 with ``position`` and ``velocity`` keys (``gym.make`` kwargs pass through)."""
    return SplitObservation(gym.make("CartPole-v1", **kwargs), CARTPOLE_KEYS)


def make_bucket_cartpole(**kwargs: Any) -> gym.Env:
    """:func:`make_dict_cartpole` plus the uint8 ``bucket`` key."""
    return SplitObservation(gym.make("CartPole-v1", **kwargs), CARTPOLE_KEYS, bucket=True)


def make_dict_pendulum(**kwargs: Any) -> gym.Env:
    """Pendulum-v1 with ``angle`` (cos, sin) and ``speed`` keys."""
    return SplitObservation(gym.make("Pendulum-v1", **kwargs), {"angle": [0, 1], "speed": [2]})
