"""Adversarial attacks: they stay in the ball, and they really are attacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3

from rlnoise.attacks.linf import cross_entropy_direction, linf_attack
from rlnoise.evaluation import evaluate_robustness
from rlnoise.evaluation.policy import PolicyAdapter


def test_fgsm_hurts_a_trained_agent_at_least_as_much_as_uniform_noise(
    trained_cartpole: PPO,
) -> None:
    eps = 0.2
    report = evaluate_robustness(
        trained_cartpole,
        "CartPole-v1",
        {"uniform": [eps], "fgsm": [eps]},
        n_episodes=8,
        seed=0,
        device="cpu",
        progress=False,
    )
    clean, uniform, fgsm = report.returns[0].mean(axis=1)
    assert clean == 500.0  # the fixture really is trained
    assert fgsm <= uniform
    assert fgsm < clean


def test_attacked_observations_stay_in_the_ball_and_the_bounds() -> None:
    generator = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    obs = torch.rand(32, 3, generator=generator)
    start = (torch.rand(32, 3, generator=generator) * 2 - 1) * 0.3
    low, high = torch.zeros(3), torch.ones(3)
    for steps, step_size in ((1, 0.3), (7, 0.1)):
        x = linf_attack(
            net, obs, eps=0.3, steps=steps, step_size=step_size, discrete=True, start=start,
            low=low, high=high,
        )  # fmt: skip
        assert (x - obs).abs().max() <= 0.3 + 1e-6
        assert x.min() >= 0 and x.max() <= 1


def test_pgd_reaches_a_higher_loss_than_fgsm_on_a_nonlinear_policy() -> None:
    torch.manual_seed(0)  # network initialisation only; the attack itself draws nothing
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 3),
    )  # fmt: skip
    obs = torch.randn(256, 4, generator=torch.Generator().manual_seed(1))
    target = net(obs).argmax(1)

    def loss(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(net(x), target, reduction="none")

    fgsm = linf_attack(net, obs, eps=0.5, steps=1, step_size=0.5, discrete=True)
    pgd = linf_attack(net, obs, eps=0.5, steps=20, step_size=0.05, discrete=True)
    with torch.no_grad():
        assert loss(pgd).mean() > loss(fgsm).mean() > loss(obs).mean()


def test_cross_entropy_direction_survives_float32_saturation() -> None:
    scores = torch.tensor([[120.0, 0.0, -5.0]])  # float32 softmax: exactly [1, 0, 0]
    saturated = torch.softmax(scores, 1) - torch.tensor([[1.0, 0.0, 0.0]])
    assert torch.all(saturated == 0)
    direction = cross_entropy_direction(scores, torch.tensor([0]))
    # softmax - onehot = [-(p1 + p2), p1, p2] up to a positive factor
    assert direction[0, 0] == -1.0 < 0 < direction[0, 2] < direction[0, 1] < 1.0


def test_continuous_mad_attack_moves_the_action_more_than_noise() -> None:
    model = SAC("MlpPolicy", "Pendulum-v1", seed=0, device="cpu")
    adapter = PolicyAdapter(model.policy)
    obs = torch.as_tensor(np.random.default_rng(0).uniform(-1, 1, (64, 3)), dtype=torch.float32)
    eps = 0.1
    start = torch.as_tensor(
        np.random.default_rng(1).uniform(-eps, eps, (64, 3)), dtype=torch.float32
    )
    x = linf_attack(
        adapter.scores, obs, eps=eps, steps=5, step_size=0.05, discrete=False, start=start,
        actions_fn=adapter.actions_from_scores,
    )  # fmt: skip
    with torch.no_grad():
        clean = adapter.act(obs)
        attacked = (adapter.act(x) - clean).abs().mean()
        noisy = (adapter.act(obs + start) - clean).abs().mean()
    assert attacked > noisy


@pytest.mark.parametrize("space", ["raw", "normalized"])
def test_continuous_attack_in_the_runner(space: str) -> None:
    model = SAC("MlpPolicy", "Pendulum-v1", seed=0, device="cpu")
    grid = {"fgsm": {"levels": [0.0, 0.3], "space": space}}
    report = evaluate_robustness(model, "Pendulum-v1", grid, 2, 0, "cpu", progress=False)
    clean, zero, attacked = report.returns[0]
    assert np.array_equal(clean, zero)
    assert not np.array_equal(clean, attacked)


@pytest.mark.parametrize(
    ("cls", "env_id"), [(DQN, "CartPole-v1"), (TD3, "Pendulum-v1"), (A2C, "Pendulum-v1")]
)
def test_every_policy_family_can_be_attacked_and_weight_perturbed(cls: type, env_id: str) -> None:
    # seed 4: an untrained DQN whose greedy action is not the same everywhere
    kwargs = {"buffer_size": 100} if cls in (DQN, TD3) else {}
    model = cls("MlpPolicy", env_id, seed=4, device="cpu", **kwargs)
    grid = {"fgsm": [0.0, 0.5], "weight_noise": {"gaussian": [0.0, 0.5]}}
    report = evaluate_robustness(model, env_id, grid, 2, 0, "cpu", progress=False, max_steps=60)
    clean, fgsm_zero, _, weights_zero, _ = report.returns[0]
    assert np.array_equal(clean, fgsm_zero)
    # Per-row weights run a batched matmul of a different shape: equal up to float rounding.
    np.testing.assert_allclose(clean, weights_zero, rtol=1e-6)
    # Both perturbations move the actions of a batch of observations.
    adapter = PolicyAdapter(model.policy)
    rng = np.random.default_rng(0)
    obs = torch.as_tensor(
        rng.uniform(-1, 1, (128, *model.observation_space.shape)), dtype=torch.float32
    )
    start = torch.as_tensor(rng.uniform(-2, 2, obs.shape), dtype=torch.float32)
    attacked = linf_attack(  # a large ball: untrained nets have wide margins
        adapter.scores, obs, eps=2.0, steps=1, step_size=2.0, discrete=adapter.discrete,
        start=None if adapter.discrete else start, actions_fn=adapter.actions_from_scores,
    )  # fmt: skip
    weights = {
        name: value
        + 0.5 * torch.randn((128, *value.shape), generator=torch.Generator().manual_seed(1))
        for name, value in adapter.action_parameters().items()
    }
    clean_actions = adapter.actions(obs)
    assert not np.array_equal(adapter.actions(attacked), clean_actions)
    assert not np.array_equal(adapter.actions_with_weights(weights, obs), clean_actions)
