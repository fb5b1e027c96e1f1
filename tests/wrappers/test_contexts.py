"""Dynamics settings and context splits: one way to set dynamics, shared with evaluation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_util import make_vec_env

from rlnoise.evaluation.conditions import Dynamics
from rlnoise.evaluation.envs import EnvMaker
from rlnoise.wrappers import ContextSet, DynamicsSetting, context_split
from rlnoise.wrappers.dynamics import make_env

LENGTHS = [{"attributes": {"length": v}} for v in (0.3, 0.5, 0.7)]


# -- dynamics ---------------------------------------------------------------------------
def test_a_setting_makes_the_env_the_evaluation_condition_makes() -> None:
    ours = make_env("CartPole-v1", DynamicsSetting(attributes={"length": 1.0, "masscart": 2}))
    theirs = EnvMaker("CartPole-v1").make(Dynamics(attributes={"length": 1.0, "masscart": 2}))
    for name in ("length", "masscart", "total_mass", "polemass_length"):
        assert getattr(ours.unwrapped, name) == getattr(theirs.unwrapped, name)
    assert isinstance(ours.unwrapped.masscart, float)  # a float attribute stays a float


def test_make_kwargs_remake_the_env() -> None:
    env = make_env("Pendulum-v1", DynamicsSetting(make_kwargs={"g": 3.0}))
    assert env.unwrapped.g == 3.0


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"attributes": {"lenght": 1.0}}, "env 'CartPole-v1' (CartPoleEnv) has no attribute "),
        ({"attributes": {"length": float("nan")}}, "attribute 'length' must be a finite number"),
        ({"attributes": {"length": "long"}}, "attribute 'length' must be a finite number"),
        ({"make_kwargs": {"gravity": 1.0}}, "cannot make env 'CartPole-v1' with"),
    ],
)
def test_bad_dynamics_are_one_line_errors_naming_the_attribute(setting: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        make_env("CartPole-v1", DynamicsSetting.from_dict(setting))
    assert "\n" not in str(error.value)


def test_a_bad_attribute_changes_nothing() -> None:
    env = gym.make("CartPole-v1")
    with pytest.raises(ValueError, match="no attribute 'nope'"):
        DynamicsSetting(attributes={"length": 2.0, "nope": 1.0}).apply(env)
    assert env.unwrapped.length == 0.5


# -- the split --------------------------------------------------------------------------
def test_split_sorts_interpolation_from_extrapolation() -> None:
    split = context_split(LENGTHS, [{"attributes": {"length": v}} for v in (0.4, 0.6, 0.1, 1.5)])
    assert [c.attribute_dict["length"] for c in split.interpolation] == [0.4, 0.6]
    assert [c.attribute_dict["length"] for c in split.extrapolation] == [0.1, 1.5]
    assert not set(split.train) & set(split.interpolation + split.extrapolation)


def test_split_refuses_a_test_context_seen_in_training() -> None:
    with pytest.raises(ValueError, match=r"test\[1\] 'length=0.5' is also a training context"):
        context_split(LENGTHS, [{"attributes": {"length": 0.4}}, LENGTHS[1]])
    with pytest.raises(ValueError, match=r"sets 'attributes\.masscart', which no training"):
        context_split(LENGTHS, [{"attributes": {"masscart": 2.0}}])


# -- the training wrapper -----------------------------------------------------------------
def _lengths(env: gym.Env, seed: int, n: int) -> list[float]:
    env.reset(seed=seed)
    out = [env.unwrapped.length]
    for _ in range(n - 1):
        env.reset()
        out.append(env.unwrapped.length)
    return out


def test_contextset_same_seed_same_sequence_each_pass_covers_the_set() -> None:
    env = ContextSet(gym.make("CartPole-v1"), LENGTHS)
    first = _lengths(env, 0, 9)
    assert _lengths(env, 0, 9) == first
    assert _lengths(env, 1, 9) != first
    for start in (0, 3, 6):
        assert sorted(first[start : start + 3]) == [0.3, 0.5, 0.7]
    assert env.unwrapped.polemass_length == pytest.approx(0.1 * env.unwrapped.length)


def test_contextset_restores_attributes_other_contexts_set() -> None:
    contexts = [{"attributes": {"length": 1.0}}, {"attributes": {"masscart": 3.0}}]
    env = ContextSet(gym.make("CartPole-v1"), contexts)
    env.reset(seed=0)
    for _ in range(4):
        _, info = env.reset()
        state = (env.unwrapped.length, env.unwrapped.masscart)
        assert state == ((1.0, 1.0) if info["context"] == 0 else (0.5, 3.0))


def test_contextset_make_kwargs_swap_the_base_env_under_the_same_wrappers() -> None:
    contexts = [{"make_kwargs": {"g": 2.0}}, {"make_kwargs": {"g": 20.0}}]
    env = ContextSet(gym.wrappers.TimeAwareObservation(gym.make("Pendulum-v1")), contexts)
    env.reset(seed=0)
    gravities = {env.unwrapped.g}
    for _ in range(3):
        obs, _ = env.reset()
        gravities.add(env.unwrapped.g)
        assert obs.shape == (4,)  # TimeAwareObservation still on top
    assert gravities == {2.0, 20.0}
    env.close()


def test_contextset_errors_name_the_context() -> None:
    with pytest.raises(
        ValueError, match=r"contexts\[1\]: env 'CartPole-v1' \(CartPoleEnv\) has no"
    ):
        ContextSet(gym.make("CartPole-v1"), [LENGTHS[0], {"attributes": {"lenght": 1.0}}])
    with pytest.raises(ValueError, match=r"contexts\[1\] repeats 'length=0.3'"):
        ContextSet(gym.make("CartPole-v1"), [LENGTHS[0], LENGTHS[0]])


def test_contextset_check_env_and_vector_envs() -> None:
    check_env(ContextSet(gym.make("CartPole-v1"), LENGTHS), skip_render_check=True)
    # Vector envs: one ContextSet per sub-env (how `rlnoise train` builds them); row i follows
    # the single env reset with seed + i.
    venv = make_vec_env(
        "CartPole-v1",
        n_envs=2,
        seed=5,
        wrapper_class=ContextSet,
        wrapper_kwargs={"contexts": LENGTHS},
    )
    venv.reset()
    rows = venv.get_attr("context")
    for i, context in enumerate(rows):
        single = ContextSet(gym.make("CartPole-v1"), LENGTHS)
        single.reset(seed=5 + i)
        assert context == single.context
    envs = gym.make_vec(
        "CartPole-v1",
        num_envs=2,
        vectorization_mode="sync",
        wrappers=[lambda env: ContextSet(env, LENGTHS)],
    )
    _, infos = envs.reset(seed=5)
    assert np.all(np.isin(infos["context"], [0, 1, 2]))
