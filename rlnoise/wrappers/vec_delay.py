"""Delays and reward noise for Stable-Baselines3 ``VecEnv`` s, batched (one engine call per step).

:class:`VecObservationDelay`, :class:`VecActionDelay` and :class:`VecRewardNoise`
run the engines of :class:`~rlnoise.wrappers.ObservationDelay`,
:class:`~rlnoise.wrappers.ActionDelay` and :class:`~rlnoise.wrappers.RewardNoise`
with one row per sub-env. Row ``i`` is seeded from sub-env ``i``'s seed
(``venv.seed(s)`` or ``make_vec_env(..., seed=s)``: ``s + i``) exactly as the
single-env wrapper reset with that seed, so its delays and noise do not depend
on the rest of the batch. (Wrapping each sub-env with the single-env wrapper
works too; these avoid one Python wrapper layer per sub-env and step.)

SB3 resets a finished sub-env inside ``step``: the row's history starts again
from the reset observation (or the default action), and the observation in
``infos[i]["terminal_observation"]`` is delayed like any other, since SB3
bootstraps a truncated episode's value from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from rlnoise.core.spec import NoiseSpecLike
from rlnoise.wrappers._sb3 import pending_reset_seeds
from rlnoise.wrappers.delay import DelayLine, default_action
from rlnoise.wrappers.reward import reward_noise_engine

__all__ = ["VecActionDelay", "VecObservationDelay", "VecRewardNoise"]


def _reseed(engine: Any, seeds: list[int | None]) -> None:
    seeded = [row for row, seed in enumerate(seeds) if seed is not None]
    if seeded:
        engine.reseed([seeds[row] for row in seeded], seeded)


class VecObservationDelay(VecEnvWrapper):
    """The policy sees each sub-env's observation of ``d`` steps ago (the reset one until then).

    Example:
        >>> from stable_baselines3.common.env_util import make_vec_env
        >>> venv = VecObservationDelay(make_vec_env("CartPole-v1", n_envs=2, seed=0), 1)
        >>> first = venv.reset()
        >>> bool(np.array_equal(venv.step(np.zeros(2, dtype=int))[0], first))
        True

    Args:
        venv: The SB3 VecEnv (Box observations).
        delay: ``k`` or ``[low, high]``.
        resample: ``"episode"`` or ``"step"``.
    """

    def __init__(self, venv: VecEnv, delay: Any, resample: str = "episode"):
        space = venv.observation_space
        if not isinstance(space, spaces.Box):
            raise ValueError(f"observation delay of a VecEnv needs a Box space, got {space}")
        self.line = DelayLine(
            delay, resample, space.shape, space.dtype, n_rows=venv.num_envs, seed_key=("obs_delay",)
        )
        VecEnvWrapper.__init__(self, venv)

    def reset(self) -> VecEnvObs:
        """Reset; every row's history is its reset observation."""
        seeds = pending_reset_seeds(self.venv)
        obs = self.venv.reset()
        _reseed(self.line, seeds)
        self.line.start(obs)
        return obs

    def step_wait(self) -> VecEnvStepReturn:
        """Step; delayed observations (terminal ones in ``infos`` too)."""
        result, rewards, dones, infos = self.venv.step_wait()
        obs = np.asarray(result)  # a Box space: one array
        ended = dones.nonzero()[0]
        if not ended.size:
            return self.line.push(obs), rewards, dones, infos
        rows = ended.tolist()
        current = obs.copy()
        for row in rows:
            if "terminal_observation" in infos[row]:
                current[row] = infos[row]["terminal_observation"]
        delayed = self.line.push(current)
        for row in rows:
            if "terminal_observation" in infos[row]:
                infos[row]["terminal_observation"] = delayed[row].copy()
        self.line.start(obs[ended], rows)
        delayed[ended] = obs[ended]
        return delayed, rewards, dones, infos


class VecActionDelay(VecEnvWrapper):
    """Each sub-env executes the action chosen ``d`` steps ago (the default action until then).

    Args:
        venv: The SB3 VecEnv (Box, Discrete, MultiDiscrete or MultiBinary actions).
        delay: ``k`` or ``[low, high]``.
        resample: ``"episode"`` or ``"step"``.
        initial: The action executed before the first chosen one (default:
            :func:`~rlnoise.wrappers.delay.default_action`).
    """

    def __init__(self, venv: VecEnv, delay: Any, resample: str = "episode", initial: Any = None):
        space = venv.action_space
        fill = default_action(space) if initial is None else np.asarray(initial, space.dtype)
        if not space.contains(fill if fill.ndim else fill.item()):
            raise ValueError(f"initial must be an action of {space}, got {initial!r}")
        self.initial = fill
        self.line = DelayLine(
            delay,
            resample,
            tuple(space.shape or ()),
            space.dtype,
            n_rows=venv.num_envs,
            seed_key=("action_delay",),
        )
        VecEnvWrapper.__init__(self, venv)

    def reset(self) -> VecEnvObs:
        """Reset; the pending actions are forgotten."""
        seeds = pending_reset_seeds(self.venv)
        obs = self.venv.reset()
        _reseed(self.line, seeds)
        self.line.start(self.initial, first_push=0)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Queue the actions; send those chosen ``d`` steps ago."""
        self.venv.step_async(self.line.push(actions))

    def step_wait(self) -> VecEnvStepReturn:
        """Step; finished sub-envs start over with the default action."""
        obs, rewards, dones, infos = self.venv.step_wait()
        ended = dones.nonzero()[0]
        if ended.size:
            self.line.start(self.initial, ended.tolist(), first_push=0)
        return obs, rewards, dones, infos


class VecRewardNoise(VecEnvWrapper):
    """Adds noise described by a spec to every sub-env's reward (one draw per step for all).

    Args:
        venv: The SB3 VecEnv.
        spec: A spec, its compact string or its dict (see :class:`~rlnoise.wrappers.RewardNoise`).
    """

    def __init__(self, venv: VecEnv, spec: NoiseSpecLike):
        self.noise = reward_noise_engine(spec, venv.num_envs)
        VecEnvWrapper.__init__(self, venv)

    def reset(self) -> VecEnvObs:
        """Reset; seeds given to ``seed()`` reseed their rows' noise."""
        seeds = pending_reset_seeds(self.venv)
        obs = self.venv.reset()
        _reseed(self.noise, seeds)
        unseeded = [row for row, seed in enumerate(seeds) if seed is None]
        if unseeded:
            self.noise.restart(unseeded)
        return obs

    def step_wait(self) -> VecEnvStepReturn:
        """Step; noisy rewards, the episodes' noise restarted where they ended."""
        obs, rewards, dones, infos = self.venv.step_wait()
        draw = self.noise.draw
        work = rewards.astype(np.float64)
        noisy = work + draw() if draw is not None else self.noise.apply(work)
        if self.noise.restarts:
            ended = dones.nonzero()[0]
            if ended.size:
                self.noise.restart(ended.tolist())
        return obs, noisy.astype(rewards.dtype), dones, infos
