"""Level splits: disjoint training/unseen streams, LevelSet for single, vector and SB3 envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from rlnoise.wrappers import LevelSet, VecLevelSet, training_levels, unseen_levels
from rlnoise.wrappers import vector as vector_wrappers
from rlnoise.wrappers.levels import LEVEL_SEED_BOUND, check_levels


def _start(level: int) -> np.ndarray:
    """CartPole's first observation on a level (its reset seed decides it)."""
    return gym.make("CartPole-v1").reset(seed=level)[0]


# -- the split ------------------------------------------------------------------------
@pytest.mark.parametrize("split_seed", [0, 1, 12345])
def test_training_and_unseen_levels_never_overlap(split_seed: int) -> None:
    train = training_levels(2000, split_seed)
    unseen = unseen_levels(2000, split_seed)
    assert not set(train) & set(unseen)
    assert len(set(train)) == 2000 and len(set(unseen)) == 2000
    assert all(0 <= level < LEVEL_SEED_BOUND for level in train + unseen)


def test_levels_are_nested_and_reproducible() -> None:
    assert training_levels(10) == training_levels(100)[:10] == training_levels(10, 0)
    assert unseen_levels(5) == unseen_levels(50)[:5]
    assert training_levels(10, 1) != training_levels(10, 0)


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        (0, "train levels must be >= 1"),
        ([], "levels must be a count or a non-empty list"),
        ([3, 3], "levels must not repeat"),
        ([-1], "levels[] must be"),
        ("10", "levels must be a count"),
    ],
)
def test_bad_levels_are_one_line_errors(levels: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_levels(levels)  # type: ignore[arg-type]


# -- single env -----------------------------------------------------------------------
def _sequence(env: gym.Env, seed: int, n: int) -> list[int]:
    first = env.reset(seed=seed)[1]["level"]
    return [first] + [env.reset()[1]["level"] for _ in range(n - 1)]


def test_same_seed_same_level_sequence_and_every_pass_covers_the_set() -> None:
    env = LevelSet(gym.make("CartPole-v1"), 5)
    first = _sequence(env, 3, 15)
    assert _sequence(env, 3, 15) == first
    assert _sequence(env, 4, 15) != first
    for start in (0, 5, 10):  # shuffled passes: each visits every level once
        assert sorted(first[start : start + 5]) == sorted(training_levels(5))


def test_the_level_is_the_env_reset_seed() -> None:
    env = LevelSet(gym.make("CartPole-v1"), unseen_levels(3))
    obs, info = env.reset(seed=0)
    assert info["level"] in unseen_levels(3)
    np.testing.assert_array_equal(obs, _start(info["level"]))


def test_check_env_passes() -> None:
    check_env(LevelSet(gym.make("CartPole-v1"), 3), skip_render_check=True)
    sb3_check_env(LevelSet(gym.make("CartPole-v1"), 3), warn=False)


# -- Gymnasium vector env -------------------------------------------------------------
def _disabled(n: int) -> gym.vector.VectorEnv:
    return gym.make_vec(
        "CartPole-v1",
        num_envs=n,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.DISABLED},
    )


def test_vector_rows_play_what_single_envs_seeded_s_plus_i_play() -> None:
    envs = vector_wrappers.LevelSet(_disabled(3), 4)
    _, infos = envs.reset(seed=10)
    rows = [infos["level"].tolist()]
    for _ in range(5):
        _, infos = envs.reset(options={"reset_mask": np.array([True, False, True])})
        rows.append(infos["level"].tolist())
    for i in (0, 2):
        single = _sequence(LevelSet(gym.make("CartPole-v1"), 4), 10 + i, 6)
        assert [row[i] for row in rows] == single
    assert [row[1] for row in rows[1:]] == [-1] * 5  # not reset: no level


def test_vector_levelset_refuses_autoreset_modes_it_cannot_steer() -> None:
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    with pytest.raises(ValueError, match="autoreset_mode=DISABLED, got NextStep"):
        vector_wrappers.LevelSet(envs, 4)


# -- SB3 VecEnv -----------------------------------------------------------------------
def test_vec_rows_play_what_single_envs_play_and_autoresets_stay_in_the_set() -> None:
    venv = VecLevelSet(make_vec_env("CartPole-v1", n_envs=2, seed=7), 3)
    obs = venv.reset()
    played = {0: [venv.reset_infos[0]["level"]], 1: [venv.reset_infos[1]["level"]]}
    for row in (0, 1):
        np.testing.assert_array_equal(obs[row], _start(played[row][0]))
    for _ in range(300):
        obs, _, dones, infos = venv.step(np.zeros(2, dtype=np.int64))
        for row in np.flatnonzero(dones):
            played[row].append(infos[row]["level"])
            np.testing.assert_array_equal(obs[row], _start(infos[row]["level"]))
    for row in (0, 1):
        single = _sequence(LevelSet(gym.make("CartPole-v1"), 3), 7 + row, len(played[row]))
        assert played[row] == single


def test_vec_levelset_refuses_a_wrapped_vecenv() -> None:
    with pytest.raises(ValueError, match="wraps the base VecEnv, got the wrapper VecNormalize"):
        VecLevelSet(VecNormalize(make_vec_env("CartPole-v1", n_envs=1)), 3)


# -- MiniGrid: the reset seed is the layout -------------------------------------------
def test_minigrid_levels_are_layouts() -> None:
    pytest.importorskip("minigrid", reason="MiniGrid is the optional extra rlnoise[minigrid]")
    import minigrid  # noqa: F401  (registers the envs)

    def layout(env: gym.Env) -> bytes:
        return env.unwrapped.grid.encode().tobytes()

    env = LevelSet(gym.make("MiniGrid-MultiRoom-N2-S4-v0"), 2)
    _, info = env.reset(seed=0)
    layouts = set()
    for _ in range(6):
        fresh = gym.make("MiniGrid-MultiRoom-N2-S4-v0")
        fresh.reset(seed=info["level"])
        assert layout(env) == layout(fresh)
        layouts.add(layout(env))
        _, info = env.reset()
    assert len(layouts) == 2  # two levels, two layouts
    check_env(LevelSet(gym.make("MiniGrid-MultiRoom-N2-S4-v0"), 2), skip_render_check=True)
