"""Test-time defences: action and observation smoothing against hand-written rollouts."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO, TD3

from rlnoise.evaluation import Condition, evaluate_robustness
from rlnoise.evaluation.grid import build_grid, load_grid
from rlnoise.evaluation.perturbations import (
    ActionSmoothingPerturbation,
    ObservationSmoothingPerturbation,
    perturbation_from_dict,
)

from .helpers import predict_episodes


class _RLZooActionSmoothing(gym.Wrapper):
    """RL Zoo's ``ActionSmoothingWrapper``, as rl_zoo3/wrappers.py writes it."""

    def __init__(self, env: gym.Env, smoothing_coef: float):
        super().__init__(env)
        self.smoothing_coef, self.smoothed_action = smoothing_coef, None

    def reset(self, **kwargs):  # type: ignore[no-untyped-def]
        self.smoothed_action = None
        return self.env.reset(**kwargs)

    def step(self, action):  # type: ignore[no-untyped-def]
        if self.smoothed_action is None:
            self.smoothed_action = np.zeros_like(action)
        self.smoothed_action = (
            self.smoothing_coef * self.smoothed_action + (1 - self.smoothing_coef) * action
        )
        return self.env.step(self.smoothed_action)


def test_action_smoothing_matches_rl_zoos_wrapper() -> None:
    model = TD3("MlpPolicy", "Pendulum-v1", seed=3, device="cpu", buffer_size=10)
    seed, n, coef = 7, 3, 0.6
    condition = Condition("smooth", (ActionSmoothingPerturbation(coef),))
    report = evaluate_robustness(
        model,
        "Pendulum-v1",
        [Condition.clean(), condition],
        n,
        seed,
        "cpu",
        progress=False,
        max_steps=50,
    )
    expected, _ = predict_episodes(
        model,
        lambda: gym.wrappers.TimeLimit(gym.make("Pendulum-v1").unwrapped, 50),
        [seed + k for k in range(n)],
        wrap=lambda env, _: _RLZooActionSmoothing(env, coef),
    )
    np.testing.assert_allclose(report.returns[0, 1], expected, rtol=1e-5)
    assert not np.allclose(report.returns[0, 0], report.returns[0, 1])


def test_observation_smoothing_matches_a_hand_written_ema(untrained_cartpole: PPO) -> None:
    seed, n, coef = 3, 4, 0.5
    condition = Condition("smooth", (ObservationSmoothingPerturbation(coef),))
    report = evaluate_robustness(
        untrained_cartpole, "CartPole-v1", [condition], n, seed, "cpu", progress=False
    )  # a list of conditions is exactly those conditions (no clean added)
    returns = []
    for k in range(n):
        env = gym.make("CartPole-v1")
        obs, _ = env.reset(seed=seed + k)
        seen, total, done = obs, 0.0, False
        while not done:
            action, _ = untrained_cartpole.predict(seen, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            seen = (coef * seen + (1 - coef) * obs).astype(np.float32)
            total, done = total + reward, terminated or truncated
        returns.append(total)
    np.testing.assert_array_equal(report.returns[0, 0], returns)


def test_observation_smoothing_acts_after_the_attack(untrained_cartpole: PPO) -> None:
    fgsm = {"type": "fgsm", "eps": 0.2}
    conditions = [
        Condition("fgsm", (fgsm,)),
        Condition("fgsm+none", (fgsm, {"type": "obs_smoothing", "coef": 0.0})),
        Condition("fgsm+smooth", (fgsm, {"type": "obs_smoothing", "coef": 0.8})),
        Condition("smooth+fgsm", ({"type": "obs_smoothing", "coef": 0.8}, fgsm)),
    ]
    report = evaluate_robustness(
        untrained_cartpole, "CartPole-v1", conditions, 4, 0, "cpu", progress=False
    )
    alone, zero, smoothed, reordered = report.returns[0]
    np.testing.assert_array_equal(alone, zero)  # coefficient 0 is no defence
    np.testing.assert_array_equal(smoothed, reordered)  # the stage order, not the list order
    assert not np.array_equal(alone, smoothed)


@pytest.mark.parametrize("cls", [ActionSmoothingPerturbation, ObservationSmoothingPerturbation])
def test_defences_round_trip_and_refuse_bad_coefficients(cls: type) -> None:
    defence = cls(0.3)
    assert perturbation_from_dict(defence.to_dict()) == defence
    for bad in (1.0, -0.1, "a"):
        with pytest.raises(ValueError, match=f"{cls.type}.coef"):
            cls(bad)


def test_action_smoothing_refuses_discrete_actions(untrained_cartpole: PPO) -> None:
    with pytest.raises(ValueError, match="action_smoothing needs a Box action space"):
        evaluate_robustness(untrained_cartpole, "CartPole-v1", {"action_smoothing": [0.5]}, 1,
                            0, "cpu", progress=False)  # fmt: skip


def test_strongest_grids_hold_every_attack_at_shared_budgets() -> None:
    for name in ("strongest", "strongest_fast"):
        conditions = build_grid(load_grid(name))
        attacks = [c.perturbations[0] for c in conditions if c.perturbations]
        methods = {a.type for a in attacks}
        expected = {"random_uniform", "random_sign", "fgsm", "pgd", "critic", "mad"}
        assert expected | {"rs", "rs_mad", "learned"} == methods
        budgets = {a.budget for a in attacks}  # type: ignore[attr-defined]
        for budget in budgets:  # every budget is attacked by every method
            assert {a.type for a in attacks if a.budget == budget} == methods  # type: ignore[attr-defined]


def test_strongest_fast_runs_on_a_trained_agent(trained_cartpole: PPO) -> None:
    report = evaluate_robustness(
        trained_cartpole, "CartPole-v1", "strongest_fast", 2, 0, "cpu", progress=False,
        max_steps=100, reference_score=0.0,
    )  # fmt: skip
    assert report.returns.shape == (1, 10, 2)
    assert [row["condition"] for row in report.worst_of_attacks()] == ["worst-of-attacks:eps=0.1"]
    budgets = {getattr(p, "budget", None) for c in report.conditions for p in c.perturbations}
    assert budgets == {"eps=0.1"}
