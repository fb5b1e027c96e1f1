"""Batched SB3 delays and reward noise: row i is the single-env wrapper reset with seed s + i."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnvWrapper

from rlnoise.wrappers import ActionDelay, ObservationDelay, RewardNoise
from rlnoise.wrappers.vec_delay import VecActionDelay, VecObservationDelay, VecRewardNoise

STEPS, N = 60, 2
ACTIONS = np.random.default_rng(0).integers(0, 2, size=(STEPS, N))


def _vec_run(wrap) -> tuple[list, list, list]:  # type: ignore[no-untyped-def]
    venv: VecEnvWrapper = wrap(make_vec_env("CartPole-v1", n_envs=N, seed=3))
    obs = [venv.reset()]
    rewards, finals = [], []
    for actions in ACTIONS:
        o, r, dones, infos = venv.step(actions)
        obs.append(o)
        rewards.append(r)
        finals += [(i, infos[i]["terminal_observation"]) for i in np.flatnonzero(dones)]
    return obs, rewards, finals


def _single_run(wrap, row: int) -> tuple[list, list, list]:  # type: ignore[no-untyped-def]
    env = wrap(gym.make("CartPole-v1"))
    obs = [env.reset(seed=3 + row)[0]]
    rewards, finals = [], []
    for actions in ACTIONS:
        o, r, terminated, truncated, _ = env.step(int(actions[row]))
        rewards.append(r)
        if terminated or truncated:
            finals.append(o)
            o, _ = env.reset()
        obs.append(o)
    return obs, rewards, finals


def _same(vec_wrap, single_wrap) -> None:  # type: ignore[no-untyped-def]
    obs, rewards, finals = _vec_run(vec_wrap)
    for row in range(N):
        s_obs, s_rewards, s_finals = _single_run(single_wrap, row)
        np.testing.assert_array_equal(np.array([o[row] for o in obs]), np.array(s_obs))
        np.testing.assert_allclose([r[row] for r in rewards], s_rewards, rtol=1e-6)
        mine = [f for i, f in finals if i == row]
        assert len(mine) == len(s_finals) > 0
        np.testing.assert_array_equal(np.array(mine), np.array(s_finals))


@pytest.mark.parametrize(("delay", "resample"), [(2, "episode"), ([0, 3], "step")])
def test_observation_delay_rows_equal_single_envs(delay: Any, resample: str) -> None:
    _same(
        lambda v: VecObservationDelay(v, delay, resample),
        lambda e: ObservationDelay(e, delay, resample),
    )


@pytest.mark.parametrize("delay", [3, [1, 2]])
def test_action_delay_rows_equal_single_envs(delay: Any) -> None:
    _same(lambda v: VecActionDelay(v, delay), lambda e: ActionDelay(e, delay))


def test_reward_noise_rows_equal_single_envs() -> None:
    spec = "gaussian:0.3,envelope=periodic(period=3)"
    _same(lambda v: VecRewardNoise(v, spec), lambda e: RewardNoise(e, spec))
