"""CartPolePixels: a valid image env that follows the underlying CartPole exactly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from rlnoise.envs import CartPolePixels


def test_passes_both_env_checkers() -> None:
    check_env(CartPolePixels(gym.make("CartPole-v1")), skip_render_check=True)
    sb3_check_env(CartPolePixels(gym.make("CartPole-v1")))


def test_frames_follow_the_state_and_stack_previous() -> None:
    env = CartPolePixels(gym.make("CartPole-v1"))
    first, _ = env.reset(seed=0)
    np.testing.assert_array_equal(first[..., 0], first[..., 1])
    second, *_ = env.step(1)
    np.testing.assert_array_equal(second[..., 1], first[..., 0])
    env.unwrapped.state = np.array([2.0, 0.0, 0.0, 0.0])
    right = env.observation(None)[..., 0]
    env.unwrapped.state = np.array([-2.0, 0.0, 0.0, 0.0])
    left = env.observation(None)[..., 0]
    assert np.argmax(right.sum(axis=0)) > np.argmax(left.sum(axis=0))


def test_rejects_small_images_and_other_envs() -> None:
    with pytest.raises(ValueError, match="size must be an integer >= 36, got 20"):
        CartPolePixels(gym.make("CartPole-v1"), size=20)
    with pytest.raises(ValueError, match="needs a CartPole environment"):
        CartPolePixels(gym.make("Pendulum-v1"))


def test_cnn_policy_trains_on_it() -> None:
    model = PPO(
        "CnnPolicy",
        CartPolePixels(gym.make("CartPole-v1")),
        n_steps=32,
        batch_size=32,
        n_epochs=1,
        device="cpu",
        seed=0,
    )
    before = [p.detach().clone() for p in model.policy.features_extractor.parameters()]
    model.learn(64)
    assert model.num_timesteps == 64
    assert model.observation_space.shape == (2, 40, 40)  # the frames (SB3: channels first)
    # The update reached the CNN: the gradient flowed through the frames.
    after = list(model.policy.features_extractor.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))
