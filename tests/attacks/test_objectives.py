"""Critic and MAD attacks against hand-written references on linear SB3 policies.

With ``net_arch=[]`` every head of an SB3 policy is one linear layer (and a
tanh for TD3's actor), so the gradient of each objective has a closed form,
written here in numpy float64 from the layers' weights; one signed step of
the attack must land exactly where that gradient's sign says.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import DQN, PPO, SAC, TD3

from rlnoise.attacks.heads import PolicyHeads, policy_family
from rlnoise.attacks.linf import linf_pgd
from rlnoise.attacks.objectives import categorical_kl_direction, critic_objective, mad_objective

EPS = 0.1


def _weights(layer: torch.nn.Linear) -> tuple[np.ndarray, np.ndarray]:
    return layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy()


def _obs(n: int, dim: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.as_tensor(rng.uniform(-1, 1, (n, dim)), dtype=torch.float32)


def _step(objective: tuple, obs: torch.Tensor, start: torch.Tensor | None = None) -> np.ndarray:
    loss_fn, gradient_fn = objective
    x = linf_pgd(
        loss_fn, obs, eps=EPS, steps=1, step_size=EPS, start=start, gradient_fn=gradient_fn
    )
    return x.double().numpy()


def _expected(
    obs: torch.Tensor, gradient: np.ndarray, start: np.ndarray | None = None
) -> np.ndarray:
    x0 = obs.double().numpy() + (0.0 if start is None else start)
    return np.clip(
        x0 + EPS * np.sign(gradient), obs.double().numpy() - EPS, obs.double().numpy() + EPS
    )


def test_critic_attack_on_ppo_descends_the_value_function() -> None:
    model = PPO("MlpPolicy", "CartPole-v1", policy_kwargs={"net_arch": []}, seed=0, device="cpu")
    w, _ = _weights(model.policy.value_net)  # V(x) = w x + b
    obs = _obs(16, 4)
    x = _step(critic_objective(PolicyHeads(model.policy)), obs)
    np.testing.assert_allclose(x, _expected(obs, np.broadcast_to(-w, (16, 4))), atol=1e-6)


def test_critic_attack_on_dqn_lowers_the_q_value_of_the_greedy_action() -> None:
    model = DQN("MlpPolicy", "CartPole-v1", policy_kwargs={"net_arch": []}, seed=0, device="cpu",
                buffer_size=10)  # fmt: skip
    w, b = _weights(model.policy.q_net.q_net[-1])  # Q(x) = W x + b
    obs = _obs(16, 4)
    greedy = (obs.double().numpy() @ w.T + b).argmax(axis=1)  # the policy's action at x
    x = _step(critic_objective(PolicyHeads(model.policy)), obs)
    np.testing.assert_allclose(x, _expected(obs, -w[greedy]), atol=1e-6)


def test_critic_attack_on_td3_descends_q1_of_the_actors_action() -> None:
    model = TD3("MlpPolicy", "Pendulum-v1", policy_kwargs={"net_arch": []}, seed=0, device="cpu",
                buffer_size=10)  # fmt: skip
    a_w, a_b = _weights(model.policy.actor.mu[0])  # mu(x) = tanh(A x + c)
    q_w, _ = _weights(model.policy.critic.qf0[0])  # Q1(x, a) = q_o x + q_a a + d
    obs = _obs(16, 3)
    pre = obs.double().numpy() @ a_w.T + a_b
    q_o, q_a = q_w[0, :3], q_w[0, 3:]
    gradient = q_o + ((1 - np.tanh(pre) ** 2) * q_a) @ a_w  # d Q1(x, mu(x)) / dx
    x = _step(critic_objective(PolicyHeads(model.policy)), obs)
    np.testing.assert_allclose(x, _expected(obs, -gradient), atol=1e-6)


def test_critic_attack_on_sac_descends_the_smaller_critic() -> None:
    model = SAC("MlpPolicy", "Pendulum-v1", policy_kwargs={"net_arch": []}, seed=0, device="cpu",
                buffer_size=10)  # fmt: skip
    m_w, m_b = _weights(model.policy.actor.mu)
    obs = _obs(16, 3)
    pre = obs.double().numpy() @ m_w.T + m_b
    action = np.tanh(pre)
    values, gradients = [], []
    for qf in model.policy.critic.q_networks:
        q_w, q_b = _weights(qf[0])
        values.append(obs.double().numpy() @ q_w[0, :3] + action @ q_w[0, 3:] + q_b[0])
        gradients.append(q_w[0, :3] + ((1 - action**2) * q_w[0, 3:]) @ m_w)
    smaller = np.argmin(np.stack(values), axis=0)
    gradient = np.stack(gradients)[smaller, np.arange(16)]
    x = _step(critic_objective(PolicyHeads(model.policy)), obs)
    np.testing.assert_allclose(x, _expected(obs, -gradient), atol=1e-6)


def test_mad_on_a_categorical_policy_follows_the_kl_gradient() -> None:
    model = PPO("MlpPolicy", "CartPole-v1", policy_kwargs={"net_arch": []}, seed=0, device="cpu")
    w, b = _weights(model.policy.action_net)  # logits = W x + b
    obs = _obs(16, 4)
    start = _obs(16, 4, seed=1).numpy() * EPS
    x0 = obs.double().numpy() + start

    def softmax(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    # d KL(p_clean || p(x)) / dx = W^T (p(x) - p_clean)
    gradient = (softmax(x0 @ w.T + b) - softmax(obs.double().numpy() @ w.T + b)) @ w
    objective = mad_objective(PolicyHeads(model.policy), obs)
    x = _step(objective, obs, torch.as_tensor(start, dtype=torch.float32))
    np.testing.assert_allclose(x, _expected(obs, gradient, start), atol=1e-6)


def test_mad_on_a_gaussian_policy_is_the_mean_distance_over_the_variance() -> None:
    model = PPO("MlpPolicy", "Pendulum-v1", policy_kwargs={"net_arch": []}, seed=0, device="cpu")
    with torch.no_grad():
        model.policy.log_std.fill_(-0.5)
        model.policy.action_net.weight.mul_(100.0)  # SB3 initialises it at gain 0.01
    w, _ = _weights(model.policy.action_net)
    obs = _obs(16, 3)
    start = _obs(16, 3, seed=1).numpy() * EPS
    x0 = obs.double().numpy() + start
    # KL = sum (mu(x) - mu(s))^2 / (2 sigma^2): gradient W^T (mu(x) - mu(s)) / sigma^2
    gradient = ((x0 - obs.double().numpy()) @ w.T) @ w / np.exp(-1.0)
    heads = PolicyHeads(model.policy)
    loss_fn, _ = objective = mad_objective(heads, obs)
    assert loss_fn is not None
    kl = loss_fn(torch.as_tensor(x0, dtype=torch.float32)).detach().double().numpy()
    diff = (x0 - obs.double().numpy()) @ w.T
    # float32 means of size ~1 differ by >= ~1e-3 here: their rounding (~1e-7) is <= 1e-4 relative
    # on each difference, ~2e-4 on its square
    np.testing.assert_allclose(kl, (diff**2).sum(axis=1) / (2 * np.exp(-1.0)), rtol=1e-3)
    x = _step(objective, obs, torch.as_tensor(start, dtype=torch.float32))
    np.testing.assert_allclose(x, _expected(obs, gradient, start), atol=1e-6)


def test_mad_on_a_deterministic_policy_is_the_squared_action_distance() -> None:
    model = TD3("MlpPolicy", "Pendulum-v1", policy_kwargs={"net_arch": []}, seed=0, device="cpu",
                buffer_size=10)  # fmt: skip
    a_w, a_b = _weights(model.policy.actor.mu[0])
    obs = _obs(16, 3)
    start = _obs(16, 3, seed=1).numpy() * EPS
    x0 = obs.double().numpy() + start
    mu_x, mu_s = np.tanh(x0 @ a_w.T + a_b), np.tanh(obs.double().numpy() @ a_w.T + a_b)
    gradient = (2 * (mu_x - mu_s) * (1 - mu_x**2)) @ a_w
    objective = mad_objective(PolicyHeads(model.policy), obs)
    x = _step(objective, obs, torch.as_tensor(start, dtype=torch.float32))
    np.testing.assert_allclose(x, _expected(obs, gradient, start), atol=1e-6)


def test_categorical_kl_direction_survives_float32_saturation() -> None:
    clean = torch.tensor([[120.0, 0.0]])
    moved = torch.tensor([[110.0, 0.0]])  # float32 softmax: [1, 0] for both
    assert torch.equal(torch.softmax(clean, 1), torch.softmax(moved, 1))
    direction = categorical_kl_direction(moved, clean)
    assert direction.tolist() == [[-1.0, 1.0]]  # p(x) - p_clean: more mass leaves action 0


def test_unsupported_policies_are_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="has no known heads"):
        policy_family(torch.nn.Linear(2, 2))
    model = TD3("MlpPolicy", "Pendulum-v1", seed=0, device="cpu", buffer_size=10)
    with pytest.raises(ValueError, match="deterministic"):
        PolicyHeads(model.policy).distribution(torch.zeros(1, 3))


def test_sb3_contrib_heads_tqc_critic_and_trpo_mad() -> None:
    sb3_contrib = pytest.importorskip("sb3_contrib")
    tqc = sb3_contrib.TQC("MlpPolicy", "Pendulum-v1", seed=0, device="cpu", buffer_size=10)
    heads = PolicyHeads(tqc.policy)
    obs = _obs(4, 3)
    with torch.no_grad():
        action = torch.tanh(tqc.policy.actor.get_action_dist_params(obs)[0])
        quantiles = tqc.policy.critic(obs, action)  # (n, critics, quantiles)
        np.testing.assert_allclose(heads.value(obs), quantiles.mean(dim=(1, 2)), rtol=1e-6)
    trpo = sb3_contrib.TRPO("MlpPolicy", "Pendulum-v1", seed=0, device="cpu")
    loss_fn, _ = mad_objective(PolicyHeads(trpo.policy), obs)
    assert loss_fn is not None and float(loss_fn(obs).abs().max()) == 0.0  # KL(p || p) = 0
