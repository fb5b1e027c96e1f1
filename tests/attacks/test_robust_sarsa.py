"""Robust Sarsa: the critic converges to the hand-computed Q^pi; the attack follows -Q."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlnoise.attacks.robust_sarsa import (
    RobustSarsaConfig,
    SarsaQNetwork,
    action_vector,
    collect_transitions,
    robust_sarsa_attack,
    train_robust_sarsa,
)

HORIZON, GAMMA = 3, 0.9


class Chain(gym.Env):
    """``HORIZON`` steps, then termination; reward 1 for action 1, 0 for action 0.

    The observation is the one-hot step index, so Q^pi is tabular.
    """

    observation_space = gym.spaces.Box(0.0, 1.0, (HORIZON,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def _obs(self) -> np.ndarray:
        return np.eye(HORIZON, dtype=np.float32)[self.t]

    def reset(self, *, seed=None, options=None):  # type: ignore[no-untyped-def]
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):  # type: ignore[no-untyped-def]
        reward = float(action == 1)
        self.t += 1
        terminated = self.t == HORIZON
        return (
            self._obs() if not terminated else np.zeros(HORIZON, np.float32),
            reward,
            terminated,
            False,
            {},
        )


def always_one(obs: np.ndarray) -> np.ndarray:
    return np.ones(len(obs), dtype=np.int64)


def hand_q() -> np.ndarray:
    """Q^pi(s_t, a) for the policy that always takes 1: [a == 1] + gamma * V(t + 1)."""
    value = [sum(GAMMA**k for k in range(HORIZON - t)) for t in range(HORIZON + 1)]
    return np.array([[GAMMA * value[t + 1], 1.0 + GAMMA * value[t + 1]] for t in range(HORIZON)])


def test_sarsa_critic_converges_to_the_hand_computed_q() -> None:
    data = collect_transitions(Chain, always_one, steps=240, explore=0.5, n_envs=4, seed=0)
    # Sarsa's target follows the policy: the next action is always 1, whatever was explored.
    assert (data.next_actions[:, 1] == 1).all()
    assert set(data.actions[:, 0]) == {0.0, 1.0}
    config = RobustSarsaConfig(
        updates=800, batch_size=64, hidden=(32,), learning_rate=1e-2, gamma=GAMMA, tau=0.2,
        reg=0.0, seed=0,
    )  # fmt: skip
    q, losses = train_robust_sarsa(data, config)
    states = torch.eye(HORIZON)
    got = np.stack(
        [q(states, torch.eye(2)[a].expand(HORIZON, 2)).detach().numpy() for a in (0, 1)], axis=1
    )
    # Exact data and a tabular target: the fit error is the optimiser's, far below the
    # 0.9 gap between the two actions' values that the attack relies on.
    np.testing.assert_allclose(got, hand_q(), atol=0.05)
    assert losses[-1] < 1e-3


def test_regulariser_flattens_q_in_the_action_ball() -> None:
    data = collect_transitions(Chain, always_one, steps=240, explore=0.5, n_envs=4, seed=0)
    base = dict(updates=300, batch_size=64, hidden=(32,), learning_rate=1e-2, gamma=GAMMA,
                reg_eps=0.5, reg_steps=2, seed=0)  # fmt: skip
    slopes = []
    for reg in (0.0, 10.0):
        q, _ = train_robust_sarsa(data, RobustSarsaConfig(**base, reg=reg))
        s = torch.eye(HORIZON)
        a = torch.eye(2)[1].expand(HORIZON, 2)
        with torch.no_grad():
            shifted = a - 0.5 * torch.tensor([0.0, 1.0])
            slopes.append(float((q(s, a) - q(s, shifted)).abs().mean()))
    assert slopes[1] < slopes[0]


def test_attack_follows_minus_q_on_a_hand_written_critic() -> None:
    # Q(s, a) = c . a with a = x (identity policy): one signed step of eps lowers Q along -sign(c).
    c = torch.tensor([2.0, -1.0, 0.5])

    def q(s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return a @ c

    obs = torch.zeros(2, 3)
    x = robust_sarsa_attack(q, lambda x: x, obs, eps=0.1, steps=1, step_size=0.1)
    np.testing.assert_allclose(x.numpy(), np.tile([-0.1, 0.1, -0.1], (2, 1)), atol=1e-7)
    # RS+MAD with ratio 1 is the action change alone: from a start offset it moves further away.
    start = torch.tensor([[0.01, -0.01, 0.01], [0.01, -0.01, 0.01]])
    x = robust_sarsa_attack(q, lambda x: x, obs, eps=0.1, steps=1, step_size=0.1,
                            mad_ratio=1.0, start=start)  # fmt: skip
    np.testing.assert_allclose(x.numpy(), np.tile([0.1, -0.1, 0.1], (2, 1)), atol=1e-7)


def test_critic_saves_and_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    q = SarsaQNetwork(3, 2, (8,))
    path = q.save(tmp_path / "q.pt", {"model": "abc"})
    loaded, metadata = SarsaQNetwork.load(path)
    assert metadata == {"model": "abc"}
    x, a = torch.ones(1, 3), torch.ones(1, 2)
    assert torch.equal(loaded(x, a), q(x, a))


def test_action_vector_scales_boxes_and_bad_settings_name_the_field() -> None:
    box = gym.spaces.Box(-2.0, 2.0, (1,))
    assert action_vector(box, np.array([[2.0], [0.0], [-5.0]])).ravel().tolist() == [1, 0, -1]
    with pytest.raises(ValueError, match=r"robust_sarsa\.explore"):
        RobustSarsaConfig(explore=1.5)
