"""Observation and action delays: what each step sees, seeding, the identity at 0, checkers."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env

from rlnoise.wrappers import ActionDelay, ObservationDelay
from rlnoise.wrappers.delay import DelayLine

ACTIONS = [1, 0, 0, 1, 1, 0, 1, 0]


def _clean_observations(seed: int) -> list[np.ndarray]:
    env = gym.make("CartPole-v1")
    out = [env.reset(seed=seed)[0]]
    out += [env.step(a)[0] for a in ACTIONS]
    return out


def _observations(env: gym.Env, seed: int) -> list[np.ndarray]:
    out = [env.reset(seed=seed)[0]]
    out += [env.step(a)[0] for a in ACTIONS]
    return out


def test_fixed_observation_delay_repeats_the_reset_observation_first() -> None:
    clean = _clean_observations(0)
    seen = _observations(ObservationDelay(gym.make("CartPole-v1"), 2), 0)
    expected = [clean[max(t - 2, 0)] for t in range(len(clean))]
    np.testing.assert_array_equal(np.array(seen), np.array(expected))


def test_fixed_action_delay_executes_the_default_first() -> None:
    env = ActionDelay(gym.make("CartPole-v1"), 3)
    env.reset(seed=0)
    executed = [int(env.step(a)[4]["executed_action"]) for a in ACTIONS]
    assert executed == [0, 0, 0, *ACTIONS[:-3]]
    # The env really executed them: the same observations as those actions played directly.
    raw = gym.make("CartPole-v1")
    raw.reset(seed=0)
    env.reset(seed=0)
    for a in ACTIONS:
        assert np.array_equal(env.step(a)[0], raw.step(executed.pop(0))[0])


def test_box_action_delay_default_is_zero_clipped_and_initial_is_checked() -> None:
    env = ActionDelay(gym.make("Pendulum-v1"), 1)
    env.reset(seed=0)
    assert env.step(np.array([1.5], np.float32))[4]["executed_action"].tolist() == [0.0]
    assert env.step(np.array([-1.0], np.float32))[4]["executed_action"].tolist() == [1.5]
    with pytest.raises(ValueError, match="initial must be an action of"):
        ActionDelay(gym.make("Pendulum-v1"), 1, initial=[5.0])


@pytest.mark.parametrize("wrapper", [ObservationDelay, ActionDelay])
def test_zero_delay_is_the_identity(wrapper: type) -> None:
    clean = _clean_observations(4)
    seen = _observations(wrapper(gym.make("CartPole-v1"), 0), 4)
    np.testing.assert_array_equal(np.array(seen), np.array(clean))


def test_random_delays_are_seeded_and_in_range() -> None:
    def delays(seed: int, resample: str) -> list[int]:
        env = ObservationDelay(gym.make("CartPole-v1"), [0, 3], resample)
        out = []
        for episode in range(4):
            env.reset(seed=seed if episode == 0 else None)
            for _ in range(5):
                env.step(0)
                out.append(int(env.line.d[0]))
        return out

    for resample in ("episode", "step"):
        assert delays(0, resample) == delays(0, resample) != delays(1, resample)
        assert set(delays(0, resample)) <= {0, 1, 2, 3}
    per_episode = delays(0, "episode")
    assert all(len(set(per_episode[i : i + 5])) == 1 for i in range(0, 20, 5))


def test_per_step_delay_reads_the_drawn_step() -> None:
    clean = _clean_observations(2)
    env = ObservationDelay(gym.make("CartPole-v1"), [0, 2], "step")
    env.reset(seed=2)
    for t, action in enumerate(ACTIONS, start=1):
        obs = env.step(action)[0]
        np.testing.assert_array_equal(obs, clean[max(t - int(env.line.d[0]), 0)])


def test_delay_line_batched_rows_are_independent() -> None:
    line = DelayLine(1, "episode", (), np.int64, n_rows=2, seed_key=())
    line.start([10, 20])
    assert line.push(np.array([11, 21])).tolist() == [10, 20]
    line.start([30], [1])
    assert line.push(np.array([12, 31])).tolist() == [11, 30]
    assert line.push(np.array([7]), [0]).tolist() == [12]


@pytest.mark.parametrize(
    "make",
    [
        lambda: ObservationDelay(gym.make("CartPole-v1"), [1, 3], "step"),
        lambda: ActionDelay(gym.make("CartPole-v1"), 2),
        lambda: ActionDelay(gym.make("Pendulum-v1"), [0, 2], "step"),
    ],
)
def test_checkers_pass(make) -> None:  # type: ignore[no-untyped-def]
    check_env(make(), skip_render_check=True)
    sb3_check_env(make())


def test_sb3_vec_env_sub_envs_seed_like_single_envs() -> None:
    venv = make_vec_env(
        "CartPole-v1",
        n_envs=2,
        seed=5,
        wrapper_class=ObservationDelay,
        wrapper_kwargs={"delay": [0, 3], "resample": "step"},
    )
    venv.reset()
    for _ in range(4):
        venv.step(np.zeros(2, dtype=np.int64))
    single = ObservationDelay(gym.make("CartPole-v1"), [0, 3], "step")
    single.reset(seed=6)
    for _ in range(4):
        single.step(0)
    assert venv.get_attr("line")[1].d.tolist() == single.line.d.tolist()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delay": -1}, "delay must be >= 0"),
        ({"delay": [3, 1]}, "delay\\[1\\] must be >= 3"),
        ({"delay": 1, "resample": "rollout"}, "resample must be one of"),
    ],
)
def test_bad_delays(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ObservationDelay(gym.make("CartPole-v1"), **kwargs)
