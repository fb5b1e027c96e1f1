"""ObservationNoise on single Gymnasium envs: exact draws, seeding, spaces, checkers, bad input."""

from __future__ import annotations

import warnings

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv

from rlnoise.core.clock import NoiseSource
from rlnoise.core.random import derive_seed, make_rng
from rlnoise.core.stream import NoiseStream
from rlnoise.envs import CartPolePixels
from rlnoise.wrappers import ActionNoise, ObservationNoise
from tests.wrappers.helpers import TextObservationEnv, unit, white

KEY = ("observation",)


def cartpole() -> gym.Env:
    return gym.make("CartPole-v1")


def run_pair(spec, steps: int, seed: int = 3, make=cartpole, act=lambda k: (k // 3) % 2):
    """(noisy, clean) observations of a wrapped and an unwrapped env fed the same actions.

    Every observation is kept, the last one of an episode and the reset one after it;
    ``env.episode_starts`` lists the indices of the reset observations.
    """
    env, clean = ObservationNoise(make(), spec), make()
    noisy_obs, clean_obs = [env.reset(seed=seed)[0]], [clean.reset(seed=seed)[0]]
    env.episode_starts = [0]
    k = 0
    while len(noisy_obs) < steps:
        k += 1
        action = act(k)
        obs, _, term, trunc, _ = env.step(action)
        ref, _, ref_term, ref_trunc, _ = clean.step(action)
        assert (term, trunc) == (ref_term, ref_trunc)
        noisy_obs.append(obs)
        clean_obs.append(ref)
        if (term or trunc) and len(noisy_obs) < steps:
            env.episode_starts.append(len(noisy_obs))
            noisy_obs.append(env.reset()[0])
            clean_obs.append(clean.reset()[0])
    return env, clean, np.array(noisy_obs), np.array(clean_obs)


def test_noise_is_the_owned_stream_across_blocks_and_episodes() -> None:
    _, _, noisy, ref = run_pair("gaussian:0.1", steps=300)
    # 300 observations span two blocks of 256 draws and several episodes.
    np.testing.assert_array_equal(noisy, ref + white(3, KEY, (4,), 300, 0.1))
    assert noisy.dtype == np.float32


def test_env_trajectory_and_generator_are_unchanged_by_wrapping() -> None:
    env, clean, _, _ = run_pair("laplace:0.5", steps=200)
    np.testing.assert_array_equal(env.unwrapped.state, clean.unwrapped.state)
    generator = env.unwrapped.np_random.bit_generator.state
    assert generator == clean.unwrapped.np_random.bit_generator.state
    # The noise stream is not the env's stream: a different derived seed.
    assert derive_seed(3, "observation") != 3


def test_gymnasium_seeding_semantics() -> None:
    env = ObservationNoise(cartpole(), "gaussian:0.1")
    first, _ = env.reset(seed=5)
    again, _ = env.reset(seed=5)
    np.testing.assert_array_equal(first, again)
    expected = white(5, KEY, (4,), 2, 0.1)
    continued, _ = env.reset()  # no seed: the stream goes on (second draw)
    state = np.asarray(env.unwrapped.state, dtype=np.float32)
    np.testing.assert_array_equal(continued, state + expected[1])
    # Never seeded: OS entropy at the first reset, so two wrappers differ, and so do
    # copies of one wrapper made before it was reset (a forked or pickled worker).
    original = ObservationNoise(cartpole(), "gaussian:0.1")
    twin = cloudpickle.loads(cloudpickle.dumps(original))
    noises = []
    for fresh in (original, twin, ObservationNoise(cartpole(), "gaussian:0.1")):
        obs, _ = fresh.reset()
        noises.append(obs - np.asarray(fresh.unwrapped.state, dtype=np.float32))
    for i in range(3):
        for j in range(i):
            assert not np.allclose(noises[i], noises[j])


@pytest.mark.parametrize(
    ("make", "spec"),
    [
        (cartpole, "gaussian:0.1"),
        (cartpole, "uniform:0.2"),
        (cartpole, "ou:0.3,theta=0.5"),
        (lambda: CartPolePixels(cartpole()), "gaussian:20"),
        (lambda: CartPolePixels(cartpole()), "salt_pepper:0.05"),
        (
            lambda: gym.wrappers.TimeAwareObservation(cartpole(), flatten=False),
            {"obs": "gaussian:0.1,mode=multiplicative"},
        ),
    ],
    ids=["box", "box-uniform", "box-ou", "image", "image-impulse", "dict"],
)
def test_gymnasium_and_sb3_env_checkers_pass(make, spec) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "wrapped env", "unbounded Box" advice
        check_env(ObservationNoise(make(), spec), skip_render_check=True)
        sb3_check_env(ObservationNoise(make(), spec))


def test_uniform_widens_by_its_half_width_and_stays_inside() -> None:
    env = ObservationNoise(cartpole(), "uniform:0.2")
    base = cartpole().observation_space
    np.testing.assert_allclose(env.observation_space.low, base.low - np.float32(0.2))
    np.testing.assert_allclose(env.observation_space.high, base.high + np.float32(0.2))
    # The declared space holds every observation the stream can produce (Pendulum's cos and
    # sin reach their bounds of [-1, 1]).
    spec = {"kind": "uniform", "scale": 0.2, "schedule": {"type": "constant", "value": 0.5}}
    env = ObservationNoise(gym.make("Pendulum-v1"), spec)
    obs, _ = env.reset(seed=0)
    outside = 0
    for _ in range(300):
        assert obs in env.observation_space
        outside += int(np.abs(obs[:2]).max() > 1)
        obs, *_ = env.step(np.array([2.0], np.float32))
    assert outside > 0  # the widening was needed
    scheduled = {"kind": "uniform", "scale": 0.2, "schedule": {"type": "linear", "steps": 9}}
    assert ObservationNoise(cartpole(), scheduled).observation_space.high.tolist() == [np.inf] * 4
    clipped = ObservationNoise(cartpole(), "gaussian:5,clip=space")
    assert clipped.observation_space == base
    obs, _ = clipped.reset(seed=0)
    for _ in range(50):
        assert obs in base
        obs, _, term, trunc, _ = clipped.step(0)
        if term or trunc:
            obs, _ = clipped.reset()


def test_uint8_images_are_rounded_clipped_and_kept_uint8() -> None:
    env, _, noisy, ref = run_pair("gaussian:60", steps=20, make=lambda: CartPolePixels(cartpole()))
    assert noisy.dtype == np.uint8
    assert env.observation_space == gym.spaces.Box(0, 255, (40, 40, 2), np.uint8)
    noise = white(3, KEY, (40, 40, 2), 20, 60.0)
    expected = np.clip(np.rint(ref.astype(np.float32) + noise), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(noisy, expected)
    assert (noisy == 0).any() and (noisy == 255).any()  # saturates instead of wrapping around


def test_dict_observations_noise_only_the_named_keys() -> None:
    make = lambda: gym.wrappers.TimeAwareObservation(cartpole(), flatten=False)  # noqa: E731
    env, _, _, _ = run_pair({"obs": "gaussian:0.1"}, steps=1, make=make)
    obs, _ = env.reset(seed=4)
    ref, _ = make().reset(seed=4)
    np.testing.assert_array_equal(obs["obs"], ref["obs"] + white(4, (*KEY, "obs"), (4,), 1, 0.1)[0])
    np.testing.assert_array_equal(obs["time"], ref["time"])
    assert env.observation_space["time"] == make().observation_space["time"]
    assert env.observation_space["obs"].high.tolist() == [np.inf] * 4
    # One spec for a Dict space reaches every Box leaf (here also the int32 'time').
    both = ObservationNoise(make(), "gaussian:2")
    assert both.observation_space["time"].dtype == np.int32
    assert sorted(both.noise_scales()) == ["observation/obs", "observation/time"]


def test_stateful_noise_restarts_with_every_episode() -> None:
    spec = "ou:0.5,theta=0.2,dt=0.1"
    env, clean = ObservationNoise(cartpole(), spec), cartpole()
    stream = NoiseStream(spec, (4,), make_rng(derive_seed(8, *KEY)), dtype=np.float32)
    obs, ref = env.reset(seed=8)[0], clean.reset(seed=8)[0]
    episodes, done = 0, False
    for k in range(150):
        np.testing.assert_array_equal(obs, ref + stream.sample())
        if done:  # the last observation had its draw; the next episode starts over
            episodes += 1
            stream.reset()
            obs, ref = env.reset()[0], clean.reset()[0]
            done = False
            continue
        obs, _, term, trunc, _ = env.step(k % 2)
        ref, *_ = clean.step(k % 2)
        done = term or trunc
    assert episodes >= 2


def test_episode_resample_holds_one_draw_per_episode() -> None:
    env, _, noisy, ref = run_pair("gaussian:0.1,resample=episode", steps=80)
    noise = noisy - ref
    starts = env.episode_starts
    assert len(starts) >= 3
    held = []
    for a, b in zip(starts, [*starts[1:], len(noise)], strict=True):
        np.testing.assert_allclose(noise[a:b], np.broadcast_to(noise[a], (b - a, 4)), atol=1e-6)
        held.append(noise[a])
    # The stream runs every step; an episode holds the draw of its first step.
    np.testing.assert_allclose(held, white(3, KEY, (4,), len(noise), 0.1)[starts], atol=1e-6)


def test_schedule_follows_the_local_step_count_then_an_outside_clock() -> None:
    spec = {
        "kind": "gaussian",
        "scale": 1.0,
        "schedule": {"type": "linear", "start": 1.0, "end": 0.0, "steps": 10},
    }
    env, clean = ObservationNoise(cartpole(), spec), cartpole()
    draws = unit(1, KEY, (4,), 8)
    obs, ref = env.reset(seed=1)[0], clean.reset(seed=1)[0]
    np.testing.assert_array_equal(obs, ref + draws[0] * 1.0)
    for k in range(1, 4):
        obs, *_ = env.step(0)
        ref, *_ = clean.step(0)
        np.testing.assert_array_equal(obs, ref + draws[k] * (1.0 - k / 10))
    assert env.noise_scales() == {"observation": pytest.approx(0.7)}
    assert isinstance(env, NoiseSource)
    env.set_noise_step(5)
    for k in range(4, 6):  # the outside clock holds the step: no local counting any more
        obs, *_ = env.step(0)
        ref, *_ = clean.step(0)
        np.testing.assert_array_equal(obs, ref + draws[k] * 0.5)
    assert env.noise_scales() == {"observation": 0.5}


def test_switch_turns_noise_off_without_consuming_draws() -> None:
    env, clean = ObservationNoise(cartpole(), "gaussian:0.1"), cartpole()
    draws = white(2, KEY, (4,), 3, 0.1)
    obs, ref = env.reset(seed=2)[0], clean.reset(seed=2)[0]
    np.testing.assert_array_equal(obs, ref + draws[0])
    env.noise_enabled = False
    obs, *_ = env.step(1)
    ref, *_ = clean.step(1)
    np.testing.assert_array_equal(obs, ref)
    assert env.noise_scales() == {"observation": 0.0}
    env.noise_enabled = True
    obs, *_ = env.step(1)
    ref, *_ = clean.step(1)
    np.testing.assert_array_equal(obs, ref + draws[1])


@pytest.mark.parametrize(
    "spec",
    ["gaussian:0.1", "gaussian:0.5,mode=multiplicative", "gaussian:0.1,clip=-1+1", "dropout:0.5"],
)
def test_non_finite_observations_pass_through(spec) -> None:
    def poison(obs: np.ndarray) -> np.ndarray:
        obs = obs.copy()
        obs[1], obs[3] = np.nan, -np.inf
        return obs

    space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    env = ObservationNoise(gym.wrappers.TransformObservation(cartpole(), poison, space), spec)
    clean = gym.wrappers.TransformObservation(cartpole(), poison, space)
    obs, ref = env.reset(seed=0)[0], clean.reset(seed=0)[0]
    dropped = 0
    for _ in range(20):
        assert np.isnan(obs[1]) and obs[3] == -np.inf
        assert np.isfinite(obs[[0, 2]]).all()
        # ...while the finite entries still get their noise.
        if spec.startswith("dropout"):
            assert np.all((obs[[0, 2]] == 0) | (obs[[0, 2]] == ref[[0, 2]]))
            dropped += int((obs[[0, 2]] == 0).sum())
        else:
            assert np.all(obs[[0, 2]] != ref[[0, 2]])
        obs, _, term, trunc, _ = env.step(0)
        ref, *_ = clean.step(0)
        if term or trunc:
            obs, ref = env.reset()[0], clean.reset()[0]
    if spec.startswith("dropout"):
        assert 0 < dropped < 40  # 40 entries at rate 0.5: either bound fails with p = 2^-40


@pytest.mark.parametrize(
    ("make", "spec", "message"),
    [
        (lambda: gym.make("FrozenLake-v1"), "gaussian:0.1", "Discrete"),
        (TextObservationEnv, "gaussian:0.1", "Text"),
        (lambda: gym.make("Blackjack-v1"), "gaussian:0.1", "no Box leaf"),
        (lambda: gym.make("Blackjack-v1"), {0: "gaussian:0.1"}, "observation/0.*Discrete"),
        (cartpole, {"kind": "gaussian", "scale": [0.1, 0.2, 0.3]}, r"\(3,\).*\(4,\)"),
        (
            lambda: gym.wrappers.TimeAwareObservation(cartpole(), flatten=False),
            {"nope": "gaussian:0.1"},
            "'nope'.*'obs', 'time'",
        ),
        (cartpole, {"pos": "gaussian:0.1"}, "needs a Dict or Tuple space"),
        (cartpole, "salt_pepper:0.1", r"dimensions \[1, 3\].*unbounded"),
        (cartpole, "gaussian:0.1,relative_to=range", "finite bounds"),
        (cartpole, "gaussian:0.1,phases=rollout", "phases"),
        (cartpole, "gaussian:0.1,resample=update", "resample"),
        (cartpole, "gaussian:0.1,relative_to=std", "relative_to='std'"),
        (cartpole, "gausian:0.1", "kind must be one of"),
        (cartpole, 0.1, "spec must be a NoiseSpec, a compact string .* got 0.1"),
    ],
)
def test_bad_input_raises_at_construction(make, spec, message) -> None:
    with pytest.raises(ValueError, match=message):
        ObservationNoise(make(), spec)


def test_subproc_workers_never_share_noise() -> None:
    kwargs = {"wrapper_class": ObservationNoise, "wrapper_kwargs": {"spec": "gaussian:0.1"}}
    # fork: workers start in milliseconds; the wrappers are still built inside the workers.
    fork = {"start_method": "fork"}
    seeded = make_vec_env(
        "CartPole-v1", n_envs=3, seed=7, vec_env_cls=SubprocVecEnv, vec_env_kwargs=fork, **kwargs
    )
    try:
        obs = seeded.reset()
        states = np.array(seeded.get_attr("state"), dtype=np.float32)
        for i in range(3):
            np.testing.assert_array_equal(obs[i], states[i] + white(7 + i, KEY, (4,), 1, 0.1)[0])
    finally:
        seeded.close()
    unseeded = SubprocVecEnv([lambda: ObservationNoise(cartpole(), "gaussian:0.1")] * 3, **fork)
    try:
        noise = unseeded.reset() - np.array(unseeded.get_attr("state"), dtype=np.float32)
    finally:
        unseeded.close()
    for i in range(3):
        for j in range(i):
            assert not np.allclose(noise[i], noise[j])


def test_builds_from_rl_zoo_yaml_and_from_its_own_env_spec() -> None:
    zoo = pytest.importorskip("rl_zoo3.utils", reason="rl_zoo3 is not installed")
    get_wrapper_class = zoo.get_wrapper_class
    wrap = get_wrapper_class(
        {"env_wrapper": [{"rlnoise.wrappers.ObservationNoise": {"spec": "gaussian:0.1"}}]}
    )
    env = wrap(cartpole())
    assert isinstance(env, ObservationNoise)
    rebuilt = gym.make(env.spec)
    assert isinstance(rebuilt, ObservationNoise)
    assert rebuilt.spec.to_json() == env.spec.to_json()  # plain YAML/JSON kwargs
    np.testing.assert_array_equal(rebuilt.reset(seed=0)[0], env.reset(seed=0)[0])


def test_a_chain_of_noise_wrappers_follows_one_outside_step() -> None:
    spec = {"kind": "gaussian", "scale": 1.0, "schedule": {"type": "linear", "steps": 10}}
    env = ObservationNoise(ActionNoise(gym.make("Pendulum-v1"), spec), spec)
    env.set_noise_step(4)
    assert env.noise_scales() == {"action": pytest.approx(0.6), "observation": pytest.approx(0.6)}


def test_tuple_observations_take_a_spec_per_index() -> None:
    space = gym.spaces.Tuple(
        (gym.spaces.Box(-np.inf, np.inf, (4,), np.float32), gym.spaces.Discrete(2))
    )

    def as_tuple(obs: np.ndarray) -> tuple:
        return (obs, int(obs[0] > 0))

    def make() -> gym.Env:
        return gym.wrappers.TransformObservation(cartpole(), as_tuple, space)

    for spec in (["gaussian:0.1", None], {0: "gaussian:0.1"}):
        env = ObservationNoise(make(), spec)
        obs, _ = env.reset(seed=1)
        ref, _ = make().reset(seed=1)
        np.testing.assert_array_equal(obs[0], ref[0] + white(1, (*KEY, 0), (4,), 1, 0.1)[0])
        assert obs[1] == ref[1]
    with pytest.raises(ValueError, match="observation/1: cannot add noise to Discrete"):
        ObservationNoise(make(), [None, "gaussian:0.1"])


def test_range_relative_scale_and_resampling_every_n_steps() -> None:
    make = lambda: gym.make("Pendulum-v1")  # noqa: E731
    act = lambda k: np.array([(k // 3) % 2 - 0.5], np.float32)  # noqa: E731
    env, _, noisy, ref = run_pair("gaussian:0.1,relative_to=range", 5, make=make, act=act)
    width = make().observation_space.high - make().observation_space.low  # [2, 2, 16]
    expected = unit(3, KEY, (3,), 5) * (0.1 * width.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(noisy, ref + expected)
    assert env.observation_space.high.tolist() == [np.inf] * 3
    _, _, noisy, ref = run_pair("gaussian:0.1,resample=3", 9, make=make, act=act)
    noise = noisy - ref
    draws = white(3, KEY, (3,), 9, 0.1)
    for k in range(9):  # held for 3 steps: the stream's draws at steps 0, 3, 6
        np.testing.assert_allclose(noise[k], draws[3 * (k // 3)], atol=1e-6)
