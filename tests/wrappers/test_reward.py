"""RewardNoise: seeded, off is the identity, envelopes and schedules through the shared engine."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from rlnoise.core.random import derive_seed, make_rng
from rlnoise.wrappers import RewardNoise


def _rewards(spec: str, seed: int, n: int = 6, enabled: bool = True) -> list[float]:
    env = RewardNoise(gym.make("CartPole-v1"), spec)
    env.noise_enabled = enabled
    env.reset(seed=seed)
    return [float(env.step(i % 2)[1]) for i in range(n)]


def test_gaussian_reward_noise_is_the_owned_stream() -> None:
    rewards = _rewards("gaussian:0.5", 3)
    expected = 1.0 + 0.5 * make_rng(derive_seed(3, "reward")).standard_normal(6)
    np.testing.assert_allclose(rewards, expected, rtol=1e-12)
    assert rewards == _rewards("gaussian:0.5", 3) != _rewards("gaussian:0.5", 4)


def test_off_is_the_clean_reward_and_info_keeps_it() -> None:
    assert _rewards("gaussian:0.5", 0, enabled=False) == [1.0] * 6
    env = RewardNoise(gym.make("CartPole-v1"), "gaussian:0.5")
    env.reset(seed=0)
    assert env.step(0)[4]["clean_reward"] == 1.0


def test_envelope_first_reward_is_step_zero() -> None:
    rewards = _rewards("gaussian:0.5,envelope=periodic(at=1,period=2)", 0)
    assert [r != 1.0 for r in rewards] == [False, True, False, True, False, True]


def test_clip_and_checkers() -> None:
    assert all(0.9 <= r <= 1.1 for r in _rewards("gaussian:5,clip=[0.9,1.1]", 0))
    check_env(RewardNoise(gym.make("CartPole-v1"), "gaussian:0.1"), skip_render_check=True)
    sb3_check_env(RewardNoise(gym.make("CartPole-v1"), "gaussian:0.1"))
    with pytest.raises(ValueError, match="a reward has no space bounds"):
        RewardNoise(gym.make("CartPole-v1"), "gaussian:0.1,clip=space")
