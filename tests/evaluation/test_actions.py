"""Action perturbations: sticky actions against Gymnasium's StickyAction, random replacement."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import StickyAction as GymStickyAction
from stable_baselines3 import PPO, SAC

from rlnoise.core.random import make_rng
from rlnoise.evaluation import Condition, evaluate_robustness
from rlnoise.evaluation.cells import Cell, episode_seed
from rlnoise.evaluation.perturbations import (
    ActionNoisePerturbation,
    RandomActionPerturbation,
    StickyActionPerturbation,
)
from rlnoise.evaluation.policy import PolicyAdapter

from .helpers import predict_episodes


@pytest.mark.parametrize("duration", [1, (1, 4)])
def test_sticky_actions_follow_gymnasium_sticky_action(
    untrained_cartpole: PPO, duration: int | tuple[int, int]
) -> None:
    # The real wrapper draws from the env's np_random; CartPole's step never uses it, so
    # handing it the episode's generator after reset makes both draw the same numbers.
    sticky = StickyActionPerturbation(0.4, duration=duration)
    condition = Condition("sticky", (sticky,))
    seed, n = 5, 6
    report = evaluate_robustness(
        untrained_cartpole, "CartPole-v1", [condition], n, seed, "cpu", progress=False
    )

    def hand_generator(env: gym.Env, episode: int) -> None:
        env.np_random = make_rng(episode_seed(seed, condition, episode, 0))

    returns, lengths = predict_episodes(
        untrained_cartpole,
        "CartPole-v1",
        [seed + k for k in range(n)],
        wrap=lambda env, _: GymStickyAction(env, 0.4, repeat_action_duration=duration),
        after_reset=hand_generator,
    )
    assert report.returns[0, 0].tolist() == returns
    assert report.lengths[0, 0].tolist() == lengths
    clean, _ = predict_episodes(untrained_cartpole, "CartPole-v1", [seed + k for k in range(n)])
    assert returns != clean  # the stickiness did something


def _cell(model: PPO, *perturbations: object, lanes: int = 64) -> Cell:
    condition = Condition("c", perturbations)  # type: ignore[arg-type]
    return Cell(0, 0, condition, PolicyAdapter(model.policy), lanes, seed=0, n_lanes=lanes)


def test_random_replacement_rate_and_uniformity(untrained_cartpole: PPO) -> None:
    p, lanes, steps = 0.3, 64, 200
    cell = _cell(untrained_cartpole, RandomActionPerturbation(p), lanes=lanes)
    live = np.arange(lanes)
    chosen = np.zeros(lanes, dtype=np.int64)  # the policy always says 0
    out = np.stack([cell.pipeline.act(chosen, live) for _ in range(steps)])
    n = out.size
    ones = out.mean()
    # A replacement is uniform over {0, 1}: P(action == 1) = p / 2.
    assert abs(ones - p / 2) < 5 * np.sqrt(p / 2 * (1 - p / 2) / n)


def test_action_noise_stays_in_bounds_and_zero_noise_is_clean() -> None:
    model = SAC("MlpPolicy", "Pendulum-v1", seed=0, device="cpu")
    cell = _cell(model, ActionNoisePerturbation("gaussian:5.0"), lanes=8)
    actions = np.full((8, 1), 1.5, dtype=np.float32)
    out = cell.pipeline.act(actions, np.arange(8))
    assert out.dtype == np.float32 and np.all(np.abs(out) <= 2.0) and np.any(out < 1.5)
    report = evaluate_robustness(
        model, "Pendulum-v1", {"action_noise": {"gaussian": [0.0, 0.5]}}, 2, 0, "cpu",
        progress=False,
    )  # fmt: skip
    clean, zero, noisy = report.returns[0]
    assert np.array_equal(clean, zero) and not np.array_equal(clean, noisy)
