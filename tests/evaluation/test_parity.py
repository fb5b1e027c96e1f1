"""Train/test parity: an evaluation condition perturbs exactly as the training-side injector does.

For the same seed — the generator (numpy) or seed (torch) the evaluation gives
an episode — the evaluation's perturbation of an observation, an action and a
weight equals what ``rlnoise.wrappers.ObservationNoise``, ``ActionNoise``,
``RandomActionReplacement``, Gymnasium's ``StickyAction`` and
``rlnoise.nn.WeightNoise`` produce. Checked per step on the injectors, then
over whole episodes against ``model.predict`` with the training-side injector.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.wrappers import StickyAction
from stable_baselines3 import DQN, PPO, SAC

from rlnoise.core.random import make_rng
from rlnoise.evaluation import Condition, evaluate_robustness
from rlnoise.evaluation.cells import Cell, episode_seed
from rlnoise.evaluation.perturbations import (
    ActionNoisePerturbation,
    ObservationNoisePerturbation,
    RandomActionPerturbation,
    StickyActionPerturbation,
    WeightNoisePerturbation,
)
from rlnoise.evaluation.policy import PolicyAdapter
from rlnoise.nn import NoiseControl, WeightNoise
from rlnoise.wrappers import ActionNoise, ObservationNoise, RandomActionReplacement

from .helpers import predict_episodes

SEED, LANES, STEPS = 11, 3, 40


class Rows(gym.Env):
    """An env of a given observation and action space (only its spaces are used)."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict]:
        return self.observation_space.sample(), {}


def lane_generators(condition: Condition) -> list[np.random.Generator]:
    """The generator the evaluation gives episode ``lane`` (the cell's first episodes)."""
    return [make_rng(episode_seed(SEED, condition, lane, 0)) for lane in range(LANES)]


def cell(model: Any, perturbation: Any) -> tuple[Cell, Condition]:
    condition = Condition("c", (perturbation,))
    adapter = PolicyAdapter(model.policy)
    return Cell(0, 0, condition, adapter, LANES, SEED, n_lanes=LANES), condition


UINT8 = spaces.Box(0, 255, (4,), np.uint8)
FLOAT = spaces.Box(-2.0, 2.0, (4,), np.float32)


@pytest.mark.parametrize(
    ("space", "spec"),
    [
        (FLOAT, "gaussian:0.3"),
        (FLOAT, "uniform:0.5,clip=space"),
        (FLOAT, "ou:0.4,theta=0.3"),
        (FLOAT, "dropout:0.3"),
        (FLOAT, "salt_pepper:0.2"),
        (FLOAT, "gaussian:0.3,resample=episode"),
        (UINT8, "gaussian:20"),  # integer observations are rounded and clipped, as trained
    ],
)
def test_observation_noise_equals_the_observation_noise_wrapper(space: spaces.Box, spec: str):
    model = PPO("MlpPolicy", Rows(space, spaces.Discrete(2)), n_steps=64, device="cpu")
    lanes, condition = cell(model, ObservationNoisePerturbation(spec))
    space.seed(0)
    clean = [np.stack([space.sample() for _ in range(LANES)]) for _ in range(STEPS)]
    evaluated = np.stack([lanes.observe(rows, np.arange(LANES)) for rows in clean])
    for lane, generator in enumerate(lane_generators(condition)):
        wrapper = ObservationNoise(Rows(space, spaces.Discrete(2)), spec)
        wrapper.noise.reseed([generator])
        trained = np.stack([wrapper.observation(rows[lane]) for rows in clean])
        assert trained.dtype == space.dtype == evaluated.dtype
        np.testing.assert_array_equal(evaluated[:, lane], trained)
        # The policy's input tensor is the same too.
        assert torch.equal(
            lanes.pipeline.adapter.to_tensor(evaluated[:, lane]), torch.as_tensor(trained)
        )


def test_action_noise_equals_the_action_noise_wrapper() -> None:
    model = SAC("MlpPolicy", "Pendulum-v1", device="cpu")
    spec = "ou:0.8,theta=0.2"
    lanes, condition = cell(model, ActionNoisePerturbation(spec))
    chosen = np.random.default_rng(1).uniform(-2, 2, (STEPS, LANES, 1)).astype(np.float32)
    evaluated = np.stack([lanes.pipeline.act(a, np.arange(LANES)) for a in chosen])
    for lane, generator in enumerate(lane_generators(condition)):
        wrapper = ActionNoise(gym.make("Pendulum-v1"), spec)
        wrapper.engine.reseed([generator])
        trained = np.stack([wrapper.action(a[lane]) for a in chosen])
        np.testing.assert_array_equal(evaluated[:, lane], trained)


def test_random_replacement_equals_the_random_action_replacement_wrapper(
    untrained_cartpole: PPO,
) -> None:
    lanes, condition = cell(untrained_cartpole, RandomActionPerturbation(0.4))
    chosen = np.random.default_rng(2).integers(0, 2, (STEPS, LANES))
    evaluated = np.stack([lanes.pipeline.act(a, np.arange(LANES)) for a in chosen])
    for lane, generator in enumerate(lane_generators(condition)):
        wrapper = RandomActionReplacement(gym.make("CartPole-v1"), 0.4)
        wrapper.engine.reseed([generator])
        trained = np.array([wrapper.action(a[lane]) for a in chosen])
        np.testing.assert_array_equal(evaluated[:, lane], trained)
    assert (evaluated != chosen).any()


def test_sticky_actions_equal_gymnasiums_sticky_action(untrained_cartpole: PPO) -> None:
    lanes, condition = cell(untrained_cartpole, StickyActionPerturbation(0.5, duration=(1, 3)))
    chosen = np.random.default_rng(3).integers(0, 2, (STEPS, LANES))
    evaluated = np.stack([lanes.pipeline.act(a, np.arange(LANES)) for a in chosen])
    for lane, generator in enumerate(lane_generators(condition)):
        wrapper = StickyAction(gym.make("CartPole-v1"), 0.5, repeat_action_duration=(1, 3))
        wrapper.reset(seed=0)
        wrapper.np_random = generator  # the wrapper draws from its env's generator
        trained = np.array([wrapper.action(a[lane]) for a in chosen])
        np.testing.assert_array_equal(evaluated[:, lane], trained)


def devices() -> list[str]:
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize(
    ("cls", "env_id", "spec"),
    [
        (PPO, "CartPole-v1", "gaussian:0.5,relative_to=std"),
        (DQN, "CartPole-v1", "uniform:0.1,mode=multiplicative"),
        (SAC, "Pendulum-v1", "laplace:0.05"),
    ],
)
def test_weight_noise_equals_nn_weight_noise(cls: type, env_id: str, spec: str, device: str):
    model = cls("MlpPolicy", env_id, seed=0, device=device)
    lanes, condition = cell(model, WeightNoisePerturbation(spec))
    weights = lanes.pipeline.weights
    assert weights is not None
    evaluated = weights.weights(None)
    names = sorted(evaluated)
    for lane in range(LANES):
        trained = WeightNoise(
            model.policy,
            f"{spec},resample=episode",
            control=NoiseControl(),
            names=names,
            seed=episode_seed(SEED, condition, lane, 0),
            register=False,
        ).held_parameters()
        for name in names:
            assert evaluated[name].device.type == device
            assert torch.equal(evaluated[name][lane], trained[name]), name


# -- whole episodes: the evaluation against model.predict with the training-side injector --
EPISODES = 4


def evaluated(model: Any, perturbation: Any, env: str = "CartPole-v1") -> tuple[list, Condition]:
    condition = Condition("c", (perturbation,))
    report = evaluate_robustness(
        model, env, [condition], EPISODES, SEED, "cpu", progress=False, batch_size=3
    )
    return report.returns[0, 0].tolist(), condition


def generator(condition: Condition, episode: int) -> np.random.Generator:
    return make_rng(episode_seed(SEED, condition, episode, 0))


def test_observation_noise_episodes_equal_predict_behind_the_wrapper(
    untrained_cartpole: PPO,
) -> None:
    returns, condition = evaluated(untrained_cartpole, ObservationNoisePerturbation("ou:0.3"))

    class Handed(ObservationNoise):
        """ObservationNoise whose reset takes the episode's generator instead of a seed."""

        episode = 0

        def reset(self, *, seed: int | None = None, options: Any = None) -> Any:
            obs, info = self.env.reset(seed=seed, options=options)
            self.noise.reseed([generator(condition, self.episode)])
            return self.observation(obs), info

    def wrap(env: gym.Env, episode: int) -> gym.Env:
        handed = Handed(env, "ou:0.3")
        handed.episode = episode
        return handed

    seeds = [SEED + k for k in range(EPISODES)]
    assert returns == predict_episodes(untrained_cartpole, "CartPole-v1", seeds, wrap=wrap)[0]


def test_action_perturbation_episodes_equal_predict_behind_the_wrappers(
    untrained_cartpole: PPO,
) -> None:
    returns, condition = evaluated(untrained_cartpole, RandomActionPerturbation(0.3))

    def hand(env: gym.Env, episode: int) -> None:
        env.engine.reseed([generator(condition, episode)])  # type: ignore[attr-defined]

    seeds = [SEED + k for k in range(EPISODES)]
    wrap = lambda env, _: RandomActionReplacement(env, 0.3)  # noqa: E731
    expected = predict_episodes(
        untrained_cartpole, "CartPole-v1", seeds, wrap=wrap, after_reset=hand
    )
    assert returns == expected[0]


def test_weight_noise_episodes_equal_predict_under_nn_weight_noise(
    untrained_cartpole: PPO,
) -> None:
    spec = "gaussian:0.3"
    returns, condition = evaluated(untrained_cartpole, WeightNoisePerturbation(spec))
    names = sorted(PolicyAdapter(untrained_cartpole.policy).action_parameters())
    expected = []
    for episode in range(EPISODES):
        noise = WeightNoise(
            untrained_cartpole.policy,
            f"{spec},resample=episode",
            control=NoiseControl(),
            names=names,
            seed=episode_seed(SEED, condition, episode, 0),
            register=False,
        )
        with noise.forced():  # installed for the episode, then taken off
            expected += predict_episodes(untrained_cartpole, "CartPole-v1", [SEED + episode])[0]
    assert returns == expected
    clean, _ = predict_episodes(untrained_cartpole, "CartPole-v1", [SEED + k for k in range(4)])
    assert returns != clean
