"""ActionNoise and RandomActionReplacement: exact draws, clipping, episodes, checkers, bad input."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from rlnoise.core.clock import NoiseSource
from rlnoise.core.random import derive_seed, make_rng
from rlnoise.core.stream import NoiseStream
from rlnoise.wrappers import ActionNoise, RandomActionReplacement
from tests.wrappers.helpers import MultiDiscreteEcho, white

Z = 5.0  # standard errors allowed in the statistical checks
AGENT = np.sin(np.arange(300) / 7).astype(np.float32)[:, None]  # a smooth "policy"


def pendulum() -> gym.Env:
    return gym.make("Pendulum-v1")


def test_action_noise_is_the_owned_stream_clipped_to_the_space() -> None:
    env, clean = ActionNoise(pendulum(), "gaussian:0.8"), pendulum()
    noise = white(4, ("action",), (1,), 120, 0.8)
    np.testing.assert_array_equal(env.reset(seed=4)[0], clean.reset(seed=4)[0])
    clipped = 0
    for k in range(120):
        executed = np.clip(AGENT[k] + noise[k], -2.0, 2.0)
        clipped += int(np.abs(AGENT[k] + noise[k]).max() > 2.0)
        obs, reward, *_ = env.step(AGENT[k])
        ref, ref_reward, *_ = clean.step(executed)
        np.testing.assert_array_equal(obs, ref)
        assert reward == ref_reward
    assert clipped > 0  # the clip was exercised
    assert (
        env.unwrapped.np_random.bit_generator.state == clean.unwrapped.np_random.bit_generator.state
    )


def test_ou_action_noise_restarts_with_every_episode() -> None:
    spec = "ou:0.3,theta=0.15,dt=0.05"
    env = ActionNoise(pendulum(), spec)
    stream = NoiseStream(spec, (1,), make_rng(derive_seed(2, "action")), dtype=np.float32)
    env.reset(seed=2)
    zero = np.zeros(1, np.float32)
    for _ in range(3):
        for _ in range(30):
            np.testing.assert_array_equal(env.action(zero), np.clip(stream.sample(), -2, 2))
        env.reset()  # no seed: same stream, new episode
        stream.reset()


def test_switch_schedule_and_outside_clock() -> None:
    spec = {"kind": "gaussian", "scale": 1.0, "schedule": {"type": "linear", "steps": 10}}
    env, clean = ActionNoise(pendulum(), spec), pendulum()
    env.reset(seed=0)
    clean.reset(seed=0)
    env.noise_enabled = False
    np.testing.assert_array_equal(env.step(AGENT[0])[0], clean.step(AGENT[0])[0])
    assert env.noise_scales() == {"action": 0.0}
    env.noise_enabled = True
    env.step(AGENT[1])
    assert env.noise_scales() == {"action": pytest.approx(0.8)}  # two steps counted
    env.set_noise_step(9)
    env.step(AGENT[2])
    assert env.noise_scales() == {"action": pytest.approx(0.1)}
    assert isinstance(env, NoiseSource)


def test_action_noise_passes_the_env_checkers() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(ActionNoise(pendulum(), "ou:0.3"), skip_render_check=True)
        sb3_check_env(ActionNoise(pendulum(), "gaussian:5"))


@pytest.mark.parametrize(
    ("make", "spec", "message"),
    [
        (lambda: gym.make("CartPole-v1"), "gaussian:0.1", "Box action space.*Discrete"),
        (pendulum, {"kind": "gaussian", "scale": [0.1, 0.2]}, r"\(2,\).*\(1,\)"),
        (pendulum, "gaussian:0.1,where=actor", "where"),
        (pendulum, "pink:0.1", "action: kind must be one of"),
    ],
)
def test_action_noise_bad_input(make, spec, message) -> None:
    with pytest.raises(ValueError, match=message):
        ActionNoise(make(), spec)


def test_replacement_uses_its_own_generator_exactly() -> None:
    # Each step draws [coin, coordinate] in [0, 1) (RandomReplacement, the engine the
    # evaluation's random_action uses too): replaced when coin < p, by floor(2 * coordinate).
    env, clean = RandomActionReplacement(gym.make("CartPole-v1"), 0.3), gym.make("CartPole-v1")
    rng = make_rng(derive_seed(6, "random_action"))
    draws = rng.random((256, 2))
    uniform, random = draws[:, 0], np.floor(draws[:, 1] * 2).astype(int)
    np.testing.assert_array_equal(env.reset(seed=6)[0], clean.reset(seed=6)[0])
    replaced = 0
    for k in range(200):
        agent = (k // 4) % 2
        executed = int(random[k]) if uniform[k] < 0.3 else agent
        replaced += int(uniform[k] < 0.3)
        obs, _, term, trunc, _ = env.step(agent)
        ref, *_ = clean.step(executed)
        np.testing.assert_array_equal(obs, ref)
        if term or trunc:
            env.reset()
            clean.reset()
    assert 0 < replaced < 200
    assert (
        env.unwrapped.np_random.bit_generator.state == clean.unwrapped.np_random.bit_generator.state
    )


@pytest.mark.parametrize("per_dimension", [False, True])
def test_replacement_rate_is_the_probability(per_dimension) -> None:
    p, n = 0.25, 4000
    env = RandomActionReplacement(MultiDiscreteEcho(), p, per_dimension=per_dimension)
    env.reset(seed=0)
    marker = np.array([-1, -1, -1])  # outside the space: any replaced component shows
    actions = np.array([env.action(marker) for _ in range(n)])
    hits = actions != marker
    nvec = np.broadcast_to(env.action_space.nvec, actions.shape)
    assert np.all((actions[hits] >= 0) & (actions[hits] < nvec[hits]))
    # A replacement rate over n draws has SE sqrt(p (1 - p) / n); Z = 5 SE (two-sided normal
    # tail 5.7e-7 per rate, at most 3 rates): a correct wrapper fails with probability < 2e-6.
    tolerance = Z * np.sqrt(p * (1 - p) / n)
    if per_dimension:
        np.testing.assert_allclose(hits.mean(axis=0), p, atol=tolerance)
        assert not np.all(hits == hits[:, :1])  # components are replaced independently
    else:
        assert np.all(hits == hits[:, :1])
        assert abs(hits[:, 0].mean() - p) < tolerance


def test_replaced_actions_are_uniform_over_the_space() -> None:
    env = RandomActionReplacement(MultiDiscreteEcho(), 1.0)
    env.reset(seed=1)
    draws = np.array([env.action(np.zeros(3, np.int64)) for _ in range(3000)])
    for column, n in enumerate((3, 5, 7)):
        counts = np.bincount(draws[:, column], minlength=n)
        assert len(counts) == n
        # Each count is Binomial(3000, 1/n): SD sqrt(3000 (1/n) (1 - 1/n)); Z = 5 SD over the
        # 15 counts: a uniform sampler fails with probability < 15 x 5.7e-7 < 1e-5.
        expected = 3000 / n
        assert np.all(np.abs(counts - expected) < Z * np.sqrt(expected * (1 - 1 / n)))


def test_replacement_schedule_switch_checkers_and_config() -> None:
    env = RandomActionReplacement(
        gym.make("CartPole-v1"),
        0.5,
        schedule={"type": "linear", "start": 1.0, "end": 0.0, "steps": 4},
    )
    env.reset(seed=0)
    assert env.noise_scales() == {"random_action": 0.5}
    env.step(0)
    env.step(0)
    assert env.noise_scales() == {"random_action": pytest.approx(0.25)}
    env.set_noise_step(4)
    assert env.current_probability == 0.0
    env.noise_enabled = False
    assert env.noise_scales() == {"random_action": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(RandomActionReplacement(gym.make("CartPole-v1"), 0.2), skip_render_check=True)
        sb3_check_env(RandomActionReplacement(gym.make("CartPole-v1"), 0.2))
    zoo = pytest.importorskip("rl_zoo3.utils", reason="rl_zoo3 is not installed")
    get_wrapper_class = zoo.get_wrapper_class
    wrap = get_wrapper_class(
        {"env_wrapper": [{"rlnoise.wrappers.RandomActionReplacement": {"probability": 0.1}}]}
    )
    assert wrap(gym.make("CartPole-v1")).probability == 0.1


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    [
        (pendulum, {}, "Discrete, MultiDiscrete or MultiBinary.*Box"),
        (lambda: gym.make("CartPole-v1"), {"probability": 1.5}, "probability must be <= 1.0"),
        (lambda: gym.make("CartPole-v1"), {"per_dimension": True}, "multi-component"),
        (lambda: gym.make("CartPole-v1"), {"schedule": "nope"}, "schedule"),
    ],
)
def test_replacement_bad_input(make, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        RandomActionReplacement(make(), **kwargs)
