"""A run's env rebuilt from its config: wrappers resolved by class, noise injectors left out."""

from __future__ import annotations

import pickle

import gymnasium as gym
import pytest

from rlnoise.runs.env import Component, EvaluationEnv, evaluation_env_factory
from rlnoise.wrappers import NOISE_WRAPPERS

PIXELS = {"rlnoise.envs.CartPolePixels": {"size": 36}}


def test_noise_wrappers_are_recognised_by_class_not_by_the_path_that_names_them() -> None:
    # The same ObservationNoise named three ways; a path-prefix test kept the facade's name.
    for path in (
        "rlnoise.wrappers.ObservationNoise",
        "rlnoise.wrappers.observation.ObservationNoise",
        "rlnoise.ObservationNoise",
    ):
        env = {"id": "CartPole-v1", "wrappers": [PIXELS, {path: {"spec": "gaussian:4"}}]}
        factory = evaluation_env_factory(env, leave_out=NOISE_WRAPPERS)
        assert isinstance(factory, EvaluationEnv)
        assert [w.path for w in factory.wrappers] == ["rlnoise.envs.CartPolePixels"], path
    actions = [{"rlnoise.RandomActionReplacement": {"p": 0.5}}]
    assert (
        evaluation_env_factory({"id": "CartPole-v1", "wrappers": actions}, leave_out=NOISE_WRAPPERS)
        == "CartPole-v1"
    )
    # Without leave_out the run's env is rebuilt as it was trained.
    kept = evaluation_env_factory({"id": "CartPole-v1", "wrappers": actions})
    assert isinstance(kept, EvaluationEnv) and len(kept.wrappers) == 1


def test_the_factory_makes_the_env_with_its_kwargs_and_kept_wrappers() -> None:
    env = {"id": "CartPole-v1", "kwargs": {"render_mode": "rgb_array"}, "wrappers": [PIXELS]}
    factory = evaluation_env_factory(env, leave_out=NOISE_WRAPPERS)
    assert isinstance(factory, EvaluationEnv) and factory.__name__ == "CartPole-v1"
    made = factory(max_episode_steps=7)  # a condition's make kwargs come on top
    assert made.observation_space.shape == (36, 36, 2)
    assert made.spec is not None and made.spec.max_episode_steps == 7
    made.close()
    clone = pickle.loads(pickle.dumps(factory))  # evaluation may hand it to other processes
    assert repr(clone) == repr(factory)
    assert evaluation_env_factory("CartPole-v1") == "CartPole-v1"


def test_subclasses_of_a_left_out_class_are_left_out() -> None:
    env = {"id": "CartPole-v1", "wrappers": ["gymnasium.wrappers.RecordEpisodeStatistics"]}
    assert evaluation_env_factory(env, leave_out=(gym.Wrapper,)) == "CartPole-v1"
    assert isinstance(
        evaluation_env_factory(env, leave_out=(gym.ObservationWrapper,)), EvaluationEnv
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (["CartPole-v1"], "env must be a mapping or an env id, got ['CartPole-v1']"),
        ({"id": "CartPole-v1", "n_env": 2}, "env has unknown key(s) ['n_env']; the keys are"),
        ({"kwargs": {}}, "env.id must be a registered Gymnasium id, got None"),
        ({"id": "CartPole-v1", "kwargs": [1]}, "env.kwargs must be a mapping of names, got [1]"),
        (
            {"id": "CartPole-v1", "wrappers": [{"os.system": {}}]},
            "env.wrappers[0] 'os.system' is outside",
        ),
        (
            {"id": "CartPole-v1", "wrappers": [PIXELS, "rlnoise.callbacks.GradientNoiseCallback"]},
            "env.wrappers[1] 'rlnoise.callbacks.GradientNoiseCallback' is not a Gymnasium wrapper",
        ),
        (
            {"id": "CartPole-v1", "wrappers": [{"a.B": {}, "c.D": {}}]},
            "env.wrappers[0] must be 'pkg.Class' or",
        ),
    ],
)
def test_a_malformed_env_section_is_one_line_naming_the_key(env: object, message: str) -> None:
    with pytest.raises(ValueError) as error:
        evaluation_env_factory(env)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_components_read_rl_zoo_form_and_write_it_back() -> None:
    component = Component.parse("w", {"gymnasium.wrappers.TimeLimit": None}, slot="wrapper")
    assert component == Component("gymnasium.wrappers.TimeLimit", {})
    assert Component.parse("w", component, slot="wrapper") == component
    assert component.resolve() is gym.wrappers.TimeLimit
