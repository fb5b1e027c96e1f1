"""Evaluation conditions for delays and timed disturbances: forms, grids, wrapper parity."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest
from stable_baselines3 import PPO

from rlnoise.core.random import make_rng
from rlnoise.evaluation import Condition, build_grid, evaluate_robustness
from rlnoise.evaluation.cells import episode_seed
from rlnoise.evaluation.perturbations import (
    ActionDelayPerturbation,
    ObservationDelayPerturbation,
    ObservationNoisePerturbation,
    perturbation_from_dict,
)
from rlnoise.wrappers import ActionDelay, ObservationDelay, ObservationNoise

from .helpers import predict_episodes

SEED, EPISODES = 11, 4


def test_dict_round_trip_and_grid() -> None:
    for perturbation in (
        ObservationDelayPerturbation(2),
        ObservationDelayPerturbation([1, 3], "step"),
        ActionDelayPerturbation([0, 2]),
    ):
        assert perturbation_from_dict(perturbation.to_dict()) == perturbation
    names = [c.name for c in build_grid({"obs_delay": [1, [0, 2]], "action_delay": [2]})]
    assert names == ["clean", "obs_delay:1", "obs_delay:0-2/episode", "action_delay:2"]
    grid = {"observation_noise": {"gaussian": {"levels": [0.1], "envelope": "step(at=5)"}}}
    assert [c.name for c in build_grid(grid)][1] == "obs:gaussian:0.1@step(at=5)"
    with pytest.raises(ValueError, match=r"obs_delay\.delay must be >= 0"):
        ObservationDelayPerturbation(-1)
    with pytest.raises(ValueError, match=r"unknown key .jitter. in obs_delay"):
        build_grid({"obs_delay": {"levels": [1], "jitter": 2}})


def evaluated(model: Any, perturbation: Any) -> tuple[list, Condition]:
    condition = Condition("c", (perturbation,))
    report = evaluate_robustness(
        model, "CartPole-v1", [condition], EPISODES, SEED, "cpu", progress=False, batch_size=3
    )
    return report.returns[0, 0].tolist(), condition


def _generator(condition: Condition, episode: int) -> Any:
    return make_rng(episode_seed(SEED, condition, episode, 0))


SEEDS = [SEED + k for k in range(EPISODES)]


@pytest.mark.parametrize(
    ("perturbation", "wrapper"),
    [
        (ObservationDelayPerturbation([0, 3], "step"), ObservationDelay),
        (ActionDelayPerturbation([0, 2], "step"), ActionDelay),
    ],
)
def test_delay_episodes_equal_predict_behind_the_wrapper(
    untrained_cartpole: PPO, perturbation: Any, wrapper: type
) -> None:
    returns, condition = evaluated(untrained_cartpole, perturbation)

    def hand(env: gym.Env, episode: int) -> None:
        env.line.reseed([_generator(condition, episode)])  # type: ignore[attr-defined]

    def wrap(env: gym.Env, _: int) -> gym.Env:
        return wrapper(env, list(perturbation.delay), "step")

    expected = predict_episodes(
        untrained_cartpole, "CartPole-v1", SEEDS, wrap=wrap, after_reset=hand
    )
    assert returns == expected[0]


def test_envelope_episodes_equal_predict_behind_the_wrapper(untrained_cartpole: PPO) -> None:
    spec = "gaussian:0.5,envelope=pulse(at=3,duration=6)"
    returns, condition = evaluated(untrained_cartpole, ObservationNoisePerturbation(spec))

    class Handed(ObservationNoise):
        episode = 0

        def reset(self, *, seed: int | None = None, options: Any = None) -> Any:
            obs, info = self.env.reset(seed=seed, options=options)
            self.noise.reseed([_generator(condition, self.episode)])
            return self.observation(obs), info

    def wrap(env: gym.Env, episode: int) -> gym.Env:
        handed = Handed(env, spec)
        handed.episode = episode
        return handed

    assert returns == predict_episodes(untrained_cartpole, "CartPole-v1", SEEDS, wrap=wrap)[0]
    plain, _ = evaluated(untrained_cartpole, ObservationNoisePerturbation("gaussian:0.5"))
    assert returns != plain
