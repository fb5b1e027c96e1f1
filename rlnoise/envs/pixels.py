"""CartPole seen as pixels: a numpy renderer, so image pipelines run without pygame or ROMs."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import RecordConstructorArgs

__all__ = ["CartPolePixels"]


class CartPolePixels(gym.ObservationWrapper, RecordConstructorArgs):
    """Replace CartPole's state vector by a small uint8 image of the cart and pole.

    The image has two channels, the current frame and the previous one, so that
    velocities can be read from it (a single frame would not be Markov). It is
    drawn with numpy from the true state, so it needs no display and no
    download; it is meant for testing image pipelines (CNN policies, uint8
    observation noise), not for benchmarking vision.

    Example:
        >>> env = CartPolePixels(gym.make("CartPole-v1"), size=40)
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, obs.dtype
        ((40, 40, 2), dtype('uint8'))

    Args:
        env: A CartPole environment (its ``unwrapped.state`` is ``[x, x_dot, theta, theta_dot]``).
        size: Height and width of the image in pixels (at least 36, NatureCNN's minimum).
    """

    def __init__(self, env: gym.Env, size: int = 40):
        RecordConstructorArgs.__init__(self, size=size)
        gym.ObservationWrapper.__init__(self, env)
        if not isinstance(size, int) or isinstance(size, bool) or size < 36:
            raise ValueError(f"size must be an integer >= 36, got {size!r}")
        x_threshold = getattr(env.unwrapped, "x_threshold", None)
        if x_threshold is None:
            raise ValueError(f"CartPolePixels needs a CartPole environment, got {env.unwrapped!r}")
        self.size = size
        self.x_limit = float(x_threshold)
        self.observation_space = gym.spaces.Box(0, 255, (size, size, 2), np.uint8)
        self._previous = np.zeros((size, size), np.uint8)
        self._pole = np.linspace(0.0, 1.0, 2 * size)

    def _draw(self) -> np.ndarray:
        cartpole: Any = self.env.unwrapped
        x, _, theta, _ = np.asarray(cartpole.state, dtype=np.float64)
        size = self.size
        frame = np.zeros((size, size), np.uint8)
        column = int(np.clip((x / self.x_limit + 1.0) / 2.0 * (size - 1), 0, size - 1))
        base = size - 6
        frame[base : base + 3, max(column - 3, 0) : column + 4] = 255
        length = 0.55 * size
        rows = np.clip(np.round(base - self._pole * length * np.cos(theta)), 0, size - 1).astype(
            int
        )
        cols = np.clip(np.round(column + self._pole * length * np.sin(theta)), 0, size - 1).astype(
            int
        )
        frame[rows, cols] = 160
        return frame

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._previous = self._draw()
        return self.observation(obs), info

    def observation(self, observation: Any) -> np.ndarray:
        current = self._draw()
        image = np.stack([current, self._previous], axis=-1)
        self._previous = current
        return image
