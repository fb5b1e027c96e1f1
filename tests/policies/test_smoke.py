"""Every noisy policy learns a few hundred steps with every algorithm it serves."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import pytest
import torch
from stable_baselines3 import A2C, DDPG, DQN, PPO, SAC, TD3
from stable_baselines3.common.envs import FakeImageEnv, IdentityEnvMultiDiscrete, SimpleMultiObsEnv

from rlnoise.policies import (
    NoisyActorCriticCnnPolicy,
    NoisyActorCriticPolicy,
    NoisyDQNCnnPolicy,
    NoisyDQNMultiInputPolicy,
    NoisyDQNPolicy,
    NoisyMultiInputActorCriticPolicy,
    NoisySACPolicy,
    NoisyTD3Policy,
)

SMALL = {"net_arch": [16, 16]}
ON_POLICY = {"n_steps": 64, "batch_size": 32, "n_epochs": 2}
OFF_POLICY = {"learning_starts": 32, "batch_size": 16, "train_freq": 8, "gradient_steps": 2}


def image_env(discrete: bool = True) -> gym.Env:
    return FakeImageEnv(screen_height=36, screen_width=36, n_channels=1, discrete=discrete)


CASES: list[tuple[str, Any, Any, Any, dict[str, Any], dict[str, Any]]] = [
    ("ppo-discrete", PPO, NoisyActorCriticPolicy, "CartPole-v1", ON_POLICY, SMALL),
    ("ppo-box", PPO, NoisyActorCriticPolicy, "Pendulum-v1", ON_POLICY, SMALL),
    (
        "ppo-multidiscrete",
        PPO,
        NoisyActorCriticPolicy,
        lambda: IdentityEnvMultiDiscrete(dim=2, ep_length=20),
        ON_POLICY,
        SMALL,
    ),
    (
        "ppo-noisynet",
        PPO,
        NoisyActorCriticPolicy,
        "CartPole-v1",
        ON_POLICY,
        {**SMALL, "noisy_net": True, "weight_noise": None, "activation_noise": None},
    ),
    ("a2c-discrete", A2C, NoisyActorCriticPolicy, "CartPole-v1", {"n_steps": 8}, SMALL),
    (
        "a2c-box-noisynet",
        A2C,
        NoisyActorCriticPolicy,
        "Pendulum-v1",
        {"n_steps": 8},
        {**SMALL, "noisy_net": True},
    ),
    (
        "ppo-cnn",
        PPO,
        NoisyActorCriticCnnPolicy,
        image_env,
        {"n_steps": 32, "batch_size": 16, "n_epochs": 1},
        {"features_extractor_kwargs": {"features_dim": 16}},
    ),
    ("ppo-multiinput", PPO, NoisyMultiInputActorCriticPolicy, SimpleMultiObsEnv, ON_POLICY, SMALL),
    ("dqn-noisynet", DQN, NoisyDQNPolicy, "CartPole-v1", OFF_POLICY, SMALL),
    (
        "dqn-independent",
        DQN,
        NoisyDQNPolicy,
        "CartPole-v1",
        OFF_POLICY,
        {**SMALL, "noisy_net": {"factorised": False}},
    ),
    (
        "dqn-param-noise",
        DQN,
        NoisyDQNPolicy,
        "CartPole-v1",
        OFF_POLICY,
        {**SMALL, "noisy_net": False, "param_noise": "gaussian:0.1"},
    ),
    (
        "dqn-weight-activation",
        DQN,
        NoisyDQNPolicy,
        "CartPole-v1",
        OFF_POLICY,
        {
            **SMALL,
            "noisy_net": False,
            "weight_noise": "gaussian:0.01",
            "activation_noise": "dropout:0.1",
        },
    ),
    (
        "dqn-cnn",
        DQN,
        NoisyDQNCnnPolicy,
        image_env,
        {**OFF_POLICY, "buffer_size": 200},
        {"features_extractor_kwargs": {"features_dim": 16}},
    ),
    ("dqn-multiinput", DQN, NoisyDQNMultiInputPolicy, SimpleMultiObsEnv, OFF_POLICY, SMALL),
    ("sac-param-noise", SAC, NoisySACPolicy, "Pendulum-v1", OFF_POLICY, SMALL),
    (
        "sac-noisynet",
        SAC,
        NoisySACPolicy,
        "Pendulum-v1",
        OFF_POLICY,
        {**SMALL, "param_noise": None, "noisy_net": True, "weight_noise": "gaussian:0.01"},
    ),
    ("td3-param-noise", TD3, NoisyTD3Policy, "Pendulum-v1", OFF_POLICY, SMALL),
    (
        "td3-noisynet",
        TD3,
        NoisyTD3Policy,
        "Pendulum-v1",
        OFF_POLICY,
        {**SMALL, "param_noise": None, "noisy_net": True, "activation_noise": "gaussian:0.05"},
    ),
    ("ddpg-param-noise", DDPG, NoisyTD3Policy, "Pendulum-v1", OFF_POLICY, SMALL),
]


@pytest.mark.parametrize(
    ("algorithm", "policy", "env", "algo_kwargs", "policy_kwargs"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_policy_learns(
    algorithm: Any,
    policy: Any,
    env: Any,
    algo_kwargs: dict[str, Any],
    policy_kwargs: dict[str, Any],
) -> None:
    environment = env if isinstance(env, str) else env()
    # SB3 writes into policy_kwargs (use_sde): give each model its own copy.
    model = algorithm(
        policy, environment, policy_kwargs=dict(policy_kwargs), seed=0, device="cpu", **algo_kwargs
    )
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(160)
    after = list(model.policy.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))
    logs = model.policy.noise_logs()
    assert logs and all(math.isfinite(v) for v in logs.values())
    action, _ = model.predict(model.get_env().reset(), deterministic=True)
    assert model.policy.noise_phase == "eval"
    assert model.action_space.contains(action[0])
