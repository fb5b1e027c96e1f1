"""``VecLevelSet``: every sub-env of a Stable-Baselines3 ``VecEnv`` plays a fixed set of levels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from rlnoise.core.random import derive_seed
from rlnoise.wrappers._sb3 import pending_reset_seeds
from rlnoise.wrappers.levels import LevelShuffle, check_levels

__all__ = ["VecLevelSet"]


def _set_row(obs: Any, row: int, value: Any) -> None:
    if isinstance(obs, dict):
        for key, part in obs.items():
            part[row] = value[key]
    elif isinstance(obs, tuple):
        for part, item in zip(obs, value, strict=True):
            part[row] = item
    else:
        obs[row] = value


class VecLevelSet(VecEnvWrapper):
    """Resets every sub-env of an SB3 ``VecEnv`` on the next level of its own sequence.

    SB3 resets a finished sub-env inside ``step`` without a seed; this wrapper
    then resets it again on its next level (``env_method("reset", seed=level)``)
    and returns that observation, so one reset per episode is spent on nothing.
    Row ``i``'s sequence restarts from ``derive_seed(s + i, "levels")`` when
    the VecEnv is seeded with ``s`` (``venv.seed(s)`` or ``make_vec_env(...,
    seed=s)``): the levels a single :class:`rlnoise.wrappers.LevelSet` reset
    with ``seed=s + i`` plays. ``infos[i]["level"]`` tells a reset row's level.

    Wrap the base VecEnv (observation wrappers such as ``VecNormalize`` go
    on top): the second reset reaches the sub-envs directly. Wrapping each
    sub-env instead (``make_vec_env(..., wrapper_class=LevelSet)``, as
    ``rlnoise train`` does) spends no extra reset.

    Example:
        >>> from stable_baselines3.common.env_util import make_vec_env
        >>> venv = VecLevelSet(make_vec_env("CartPole-v1", n_envs=2, seed=0), 4)
        >>> venv.reset().shape, venv.reset_infos[0]["level"] % 2
        ((2, 4), 0)

    Args:
        venv: The base VecEnv.
        levels: A count (the first ``n`` training levels of ``split_seed``) or level seeds.
        split_seed: Which split a count refers to.

    Raises:
        ValueError: A ``VecEnvWrapper`` as ``venv``, or bad levels.
    """

    def __init__(self, venv: VecEnv, levels: int | Sequence[int], split_seed: int = 0):
        if isinstance(venv, VecEnvWrapper):
            raise ValueError(
                f"VecLevelSet wraps the base VecEnv, got the wrapper {type(venv).__name__}; "
                "put observation wrappers (VecNormalize, VecFrameStack...) on top of VecLevelSet"
            )
        self.levels = check_levels(levels, split_seed)
        VecEnvWrapper.__init__(self, venv)
        self.orders = [LevelShuffle(self.levels, None) for _ in range(self.num_envs)]
        self.reset_infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]

    def _replay(self, obs: Any, row: int) -> int:
        level = self.orders[row].next()
        ((first, info),) = self.venv.env_method("reset", seed=level, indices=[row])
        _set_row(obs, row, first)
        info["level"] = level
        self.reset_infos[row] = info
        return level

    def reset(self) -> VecEnvObs:
        """Reset every sub-env on its next level (seeds given to ``seed()`` restart the orders)."""
        seeds = pending_reset_seeds(self.venv)
        obs = self.venv.reset()
        for row, seed in enumerate(seeds):
            if seed is not None:
                self.orders[row].reseed(derive_seed(seed, "levels"))
            self._replay(obs, row)
        return obs

    def step_wait(self) -> VecEnvStepReturn:
        """Step; a finished sub-env starts its next episode on its next level."""
        obs, rewards, dones, infos = self.venv.step_wait()
        for row in np.flatnonzero(dones).tolist():
            infos[row]["level"] = self._replay(obs, row)
        return obs, rewards, dones, infos
