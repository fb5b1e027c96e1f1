"""Exploration streams in a Gymnasium vector env loop: every autoreset mode, a single env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from rlnoise.exploration import ExplorationStreams, SpecActionNoise

LIMITS = (3, 5)  # sub-env episode lengths: the two envs end their episodes at different steps
SPEC = "colored:0.5,beta=1,length=16"


def _envs(mode: AutoresetMode) -> gym.vector.SyncVectorEnv:
    return gym.vector.SyncVectorEnv(
        [lambda n=n: gym.make("Pendulum-v1", max_episode_steps=n) for n in LIMITS],
        autoreset_mode=mode,
    )


def _acted_episodes(mode: AutoresetMode, spec: str, steps: int = 16) -> list[list[list[float]]]:
    """Per env, per episode: the noise of each action the env acted on."""
    envs = _envs(mode)
    noise = SpecActionNoise(spec, envs.single_action_space, n_envs=2, seed=0)
    episodes: list[list[list[float]]] = [[[]], [[]]]
    envs.reset(seed=0)
    ignored = np.zeros(2, dtype=bool)  # NextStep: this step resets the env, its action is unused
    for _ in range(steps):
        eps = noise()
        _, _, terminated, truncated, _ = envs.step(np.clip(eps, -2.0, 2.0))
        ended = terminated | truncated
        for env in range(2):
            if not ignored[env]:
                episodes[env][-1].append(float(eps[env, 0]))
                if ended[env]:
                    episodes[env].append([])
        if mode is AutoresetMode.NEXT_STEP:
            ignored = ended
        elif mode is AutoresetMode.DISABLED and ended.any():
            envs.reset(options={"reset_mask": ended})
        noise.episode_ends(terminated, truncated, envs.metadata["autoreset_mode"])
    envs.close()
    return [[episode for episode in env if episode] for env in episodes]


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED])
def test_each_episode_acts_on_the_noise_it_gets_with_a_same_step_reset(mode: AutoresetMode) -> None:
    # SameStep (SB3's VecEnv resets likewise) restarts an env's noise right after its last step.
    # In every mode, each episode's actions get the same noise: a restarted sequence, never
    # the previous episode's continuation (NextStep's ignored reset action is not counted).
    expected = _acted_episodes(AutoresetMode.SAME_STEP, SPEC)
    got = _acted_episodes(mode, SPEC)
    for env, limit in enumerate(LIMITS):
        assert [len(e) for e in expected[env][:-1]] == [limit] * (len(expected[env]) - 1)
        n = min(len(expected[env]), len(got[env])) - 1  # complete episodes in both runs
        assert n >= 2
        assert got[env][:n] == expected[env][:n]


def test_next_step_restarts_after_the_reset_step_not_at_the_end() -> None:
    # Restarting at the episode's last step (as with SB3) would hand the new sequence's first
    # value to NextStep's ignored action: the next episode would start one value in.
    envs = _envs(AutoresetMode.NEXT_STEP)
    streams = ExplorationStreams(SPEC, 1, n_envs=2, seed=0)
    twin = ExplorationStreams(SPEC, 1, n_envs=2, seed=0)
    envs.reset(seed=0)
    for _ in range(LIMITS[0]):
        eps = streams.sample()
        twin.sample()
        _, _, terminated, truncated, _ = envs.step(eps)
        streams.episode_ends(terminated, truncated, AutoresetMode.NEXT_STEP)
    assert terminated[0] or truncated[0]  # env 0 ended: its reset comes with the next step
    twin.reset([0])
    restarted = twin.sample()[0].copy()  # the first value of env 0's next sequence
    ignored = streams.sample()[0].copy()  # the reset step's action: the old sequence goes on
    assert ignored[0] != restarted[0]
    _, _, terminated, truncated, _ = envs.step(streams.last)  # env 0 resets, action unused
    streams.episode_ends(terminated, truncated, AutoresetMode.NEXT_STEP)
    np.testing.assert_array_equal(streams.sample()[0], restarted)  # its first acted action
    envs.close()


def test_a_single_env_loop() -> None:
    env = gym.make("Pendulum-v1", max_episode_steps=4)
    noise = SpecActionNoise("ou:0.3", env.action_space, seed=1)
    env.reset(seed=0)
    starts: list[float] = []
    for step in range(8):
        eps = noise()[0]
        if step % 4 == 0:
            starts.append(float(eps[0]))
        _, _, terminated, truncated, _ = env.step(np.clip(eps, -2.0, 2.0))
        if terminated or truncated:
            noise.reset([0])
            env.reset()
    # OU restarts from 0: each episode's first draw is one step of the process from 0,
    # scale * sqrt(dt) * z with SB3's dt 0.01 (|z| < 5 with overwhelming probability).
    assert all(abs(start) < 0.3 * 0.1 * 5 for start in starts)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"autoreset_mode": "Later"}, "autoreset_mode must be one of"),
        (
            {"terminated": np.zeros(3, bool)},
            r"terminated must hold one flag per env \(2\), got shape \(3,\)",
        ),
    ],
)
def test_bad_episode_ends_arguments(kwargs: dict[str, Any], message: str) -> None:
    streams = ExplorationStreams("gaussian:1", 1, n_envs=2, seed=0)
    args = {"terminated": np.zeros(2, bool), "truncated": np.zeros(2, bool), **kwargs}
    with pytest.raises(ValueError, match=message):
        streams.episode_ends(**args)
