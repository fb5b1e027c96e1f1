"""The learned adversary's env: a valid Gymnasium/SB3 env, batched without changing the MDP."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from rlnoise.attacks.adversary import AdversaryEnv, adversary_perturb, adversary_vec_env


def push_left(obs: np.ndarray) -> np.ndarray:
    """A fixed victim: left when the pole leans left (a batch or one observation)."""
    return (np.asarray(obs)[..., 2] > 0).astype(np.int64)


# CartPole's own observation space is unbounded in two dimensions; the checker says so.
@pytest.mark.filterwarnings("ignore:.*Box observation space m")
def test_adversary_env_passes_gymnasium_and_sb3_checks() -> None:
    env = AdversaryEnv(gym.make("CartPole-v1"), lambda obs: int(push_left(obs)), eps=0.1)
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(AdversaryEnv(gym.make("CartPole-v1"), lambda obs: int(push_left(obs)), eps=0.1))


def test_the_victim_sees_the_scaled_perturbation_and_the_adversary_earns_minus_its_reward() -> None:
    eps = np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)  # one radius per dimension
    seen = []
    env = AdversaryEnv(gym.make("CartPole-v1"), lambda obs: seen.append(obs) or 0, eps=eps)
    obs, _ = env.reset(seed=0)
    _, reward, *_ = env.step(np.array([1.0, -1.0, 0.5, 7.0], dtype=np.float32))
    np.testing.assert_allclose(seen[0] - obs, [0.1, -0.2, 0.15, 0.4], rtol=1e-6)
    assert reward == -1.0


def test_batched_env_steps_as_the_single_envs_do() -> None:
    n, eps = 3, 0.2
    venv = adversary_vec_env(lambda: gym.make("CartPole-v1"), push_left, eps, n, seed=5)
    singles = [AdversaryEnv(gym.make("CartPole-v1"), push_left, eps) for _ in range(n)]
    batch = venv.reset()
    np.testing.assert_array_equal(batch, [e.reset(seed=5 + i)[0] for i, e in enumerate(singles)])
    rng = np.random.default_rng(0)
    for _ in range(5):  # short of any episode end, where the vec env resets by itself
        actions = rng.uniform(-1, 1, (n, 4)).astype(np.float32)
        batch, rewards, _, _ = venv.step(actions)
        steps = [e.step(a) for e, a in zip(singles, actions, strict=True)]
        np.testing.assert_array_equal(batch, [s[0] for s in steps])
        np.testing.assert_array_equal(rewards, [s[1] for s in steps])


def test_adversary_perturb_is_the_clipped_mean_action_times_eps() -> None:
    env = AdversaryEnv(gym.make("CartPole-v1"), lambda obs: 0, eps=0.1)
    policy = PPO("MlpPolicy", env, n_steps=8, batch_size=8, seed=0, device="cpu").policy
    obs = torch.zeros(5, 4)
    expected, _ = policy.predict(obs.numpy(), deterministic=True)  # SB3 clips to [-1, 1]
    x = adversary_perturb(policy, obs, 0.1)
    np.testing.assert_allclose(x.numpy(), 0.1 * expected, rtol=1e-6)


def test_bad_radius_names_the_field() -> None:
    with pytest.raises(ValueError, match="eps"):
        AdversaryEnv(gym.make("CartPole-v1"), lambda obs: 0, eps=[0.1, 0.2])
    with pytest.raises(ValueError, match="eps"):
        AdversaryEnv(gym.make("CartPole-v1"), lambda obs: 0, eps=-0.1)
