"""Reference loops: one seeded episode at a time, with SB3's own ``model.predict``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np


def predict_episodes(
    model: Any,
    env_id: str | Callable[[], gym.Env],
    seeds: list[int],
    *,
    wrap: Callable[[gym.Env, int], gym.Env] | None = None,
    after_reset: Callable[[gym.Env, int], None] | None = None,
    normalize: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[list[float], list[int]]:
    """Returns and lengths of ``model.predict(obs, deterministic=True)`` episodes, one by one.

    Args:
        model: SB3 model.
        env_id: Env id, or a callable making the env.
        seeds: Reset seed of each episode.
        wrap: Optional ``(env, episode) -> env`` (e.g. a StickyAction wrapper).
        after_reset: Optional ``(env, episode) -> None`` called after each reset.
        normalize: Observation transform before ``predict`` (VecNormalize statistics).
    """
    returns, lengths = [], []
    for episode, seed in enumerate(seeds):
        env = gym.make(env_id) if isinstance(env_id, str) else env_id()
        if wrap is not None:
            env = wrap(env, episode)
        obs, _ = env.reset(seed=seed)
        if after_reset is not None:
            after_reset(env, episode)
        total, steps, done = 0.0, 0, False
        while not done:
            seen = obs if normalize is None else normalize(obs)
            action, _ = model.predict(seen, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += reward
            steps += 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(steps)
        env.close()
    return returns, lengths
