"""Selective noise injection: noise-free rollouts, the λ-mixture of losses, λ = 1 exactness."""

from __future__ import annotations

import pytest
import torch
from stable_baselines3 import A2C, PPO

from rlnoise.policies import NoisyActorCriticPolicy
from rlnoise.policies.losses import Minibatch, attach_loss, on_policy_loss

SMALL = {"n_steps": 32, "batch_size": 16, "n_epochs": 2, "device": "cpu"}
DROPOUT = {"activation_noise": "dropout:0.3,rescale=true", "weight_noise": None}


def _ppo(policy_kwargs: dict, seed: int = 0, algo: type = PPO, steps: int = 64, **kwargs) -> PPO:
    """Build and train (SB3 seeds the global RNGs at construction: train before the next)."""
    options = {**SMALL, **kwargs} if algo is PPO else {"n_steps": 32, "device": "cpu", **kwargs}
    model = algo(
        NoisyActorCriticPolicy, "CartPole-v1", seed=seed, policy_kwargs=policy_kwargs, **options
    )
    if steps:
        model.learn(steps)
    return model


def _parameters(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.policy.parameters()]


@pytest.mark.parametrize("algo", [PPO, A2C])
def test_lambda_one_is_the_noise_free_update_bit_for_bit(algo: type) -> None:
    clean = _ppo({"activation_noise": None, "weight_noise": None}, algo=algo)
    sni = _ppo({**DROPOUT, "sni_lambda": 1.0}, algo=algo)
    for a, b in zip(_parameters(clean), _parameters(sni), strict=True):
        assert torch.equal(a, b)


def test_lambda_below_one_changes_the_update() -> None:
    clean = _ppo({"activation_noise": None, "weight_noise": None})
    sni = _ppo({**DROPOUT, "sni_lambda": 0.5})
    assert any(
        not torch.equal(a, b) for a, b in zip(_parameters(clean), _parameters(sni), strict=True)
    )
