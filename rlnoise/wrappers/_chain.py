"""Reaching the next noise source inside a Gymnasium wrapper chain.

In a ``SubprocVecEnv`` the shared training clock reaches a worker's env only
through ``env_method("set_noise_step", ...)``, which calls the OUTERMOST
wrapper that has the method. Every rlnoise wrapper therefore forwards the step
to the next noise source it wraps and merges that source's scales into its own.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

__all__ = ["forward_noise_step", "inner_noise_scales", "inner_noise_source"]


def inner_noise_source(env: Any) -> Any:
    """The first wrapper inside ``env`` (or ``env`` itself) whose class is a noise source.

    Example:
        >>> import gymnasium as gym
        >>> inner_noise_source(gym.make("CartPole-v1")) is None
        True
    """
    while env is not None:
        cls = type(env)
        if callable(getattr(cls, "set_noise_step", None)) and callable(
            getattr(cls, "noise_scales", None)
        ):
            return env
        env = env.env if isinstance(env, gym.Wrapper) else None
    return None


def forward_noise_step(env: Any, step: int) -> None:
    """Pass ``step`` to the first noise source inside ``env``, if there is one."""
    inner = inner_noise_source(env)
    if inner is not None:
        inner.set_noise_step(step)


def inner_noise_scales(env: Any) -> dict[str, float]:
    """A copy of the scales of the first noise source inside ``env`` (empty without one)."""
    inner = inner_noise_source(env)
    return {} if inner is None else dict(inner.noise_scales())
