"""A spec's envelope in the training wrappers: noise only where it is on, and the same draws."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from stable_baselines3.common.env_util import make_vec_env

from rlnoise.wrappers import ActionNoise, ObservationNoise, VecObservationNoise


def _observation_noise(spec: str, seed: int, steps: int) -> np.ndarray:
    env = ObservationNoise(gym.make("CartPole-v1"), spec)
    clean = gym.make("CartPole-v1")
    rows = [env.reset(seed=seed)[0] - clean.reset(seed=seed)[0]]
    for _ in range(steps):
        rows.append(env.step(0)[0] - clean.step(0)[0])
    return np.array(rows)


def test_pulse_noises_only_its_window_with_the_draws_of_the_plain_spec() -> None:
    plain = _observation_noise("gaussian:0.1", 3, 8)
    pulsed = _observation_noise("gaussian:0.1,envelope=pulse(at=2,duration=3)", 3, 8)
    on = np.abs(pulsed).max(axis=1) > 0
    # Step 0 is the reset observation.
    assert on.tolist() == [False, False, True, True, True, False, False, False, False]
    np.testing.assert_array_equal(pulsed[on], plain[on])


def test_periodic_and_step_shapes() -> None:
    every = _observation_noise("gaussian:0.1,envelope=periodic(period=3)", 0, 7)
    assert np.flatnonzero(np.abs(every).max(axis=1) > 0).tolist() == [0, 3, 6]
    step = _observation_noise("gaussian:0.1,envelope=step(at=4)", 0, 7)
    assert np.flatnonzero(np.abs(step).max(axis=1) > 0).tolist() == [4, 5, 6, 7]


def test_envelope_restarts_with_each_episode() -> None:
    env = ObservationNoise(gym.make("CartPole-v1"), "gaussian:0.1,envelope=impulse(at=1)")
    clean = gym.make("CartPole-v1")
    for seed in (0, 1):
        assert np.array_equal(env.reset(seed=seed)[0], clean.reset(seed=seed)[0])
        assert not np.array_equal(env.step(1)[0], clean.step(1)[0])
        assert np.array_equal(env.step(1)[0], clean.step(1)[0])


def test_random_onset_is_seeded() -> None:
    spec = "gaussian:0.1,envelope=impulse(at=[1,6])"

    def onset(seed: int) -> int:
        return int(np.flatnonzero(np.abs(_observation_noise(spec, seed, 7)).max(axis=1) > 0)[0])

    onsets = [onset(seed) for seed in range(6)]
    assert onsets == [onset(seed) for seed in range(6)]
    assert len(set(onsets)) > 1 and all(1 <= v <= 6 for v in onsets)


def test_action_envelope_first_action_is_step_zero() -> None:
    env = ActionNoise(gym.make("Pendulum-v1"), "gaussian:0.5,envelope=impulse(at=1)")
    clean = gym.make("Pendulum-v1")
    env.reset(seed=0)
    clean.reset(seed=0)
    action = np.zeros(1, dtype=np.float32)
    same = [np.array_equal(env.step(action)[0], clean.step(action)[0]) for _ in range(3)]
    # The noisy action of step 1 shows in the observation after it; the state then differs.
    assert same == [True, False, False]


def test_vec_env_rows_restart_their_envelope_at_autoreset() -> None:
    venv = VecObservationNoise(
        make_vec_env("CartPole-v1", n_envs=2, seed=0), "gaussian:0.1,envelope=impulse(at=0)"
    )
    clean = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    assert np.all(venv.reset() != clean.reset())
    ended = False
    for _ in range(60):
        obs, _, dones, _ = venv.step(np.ones(2, dtype=np.int64))
        ref, _, ref_dones, _ = clean.step(np.ones(2, dtype=np.int64))
        assert np.array_equal(dones, ref_dones)
        # Only a row that just reset (its step 0) is noisy.
        np.testing.assert_array_equal(np.any(obs != ref, axis=1), dones)
        ended |= bool(dones.any())
    assert ended


def test_gymnasium_vector_rows_restart_their_envelope_at_autoreset() -> None:
    from rlnoise.wrappers.vector import ObservationNoise as VectorObservationNoise

    spec = "gaussian:0.1,envelope=impulse(at=0)"
    envs = VectorObservationNoise(gym.make_vec("CartPole-v1", 2, "sync"), spec)
    clean = gym.make_vec("CartPole-v1", 2, "sync")
    assert np.all(envs.reset(seed=0)[0] != clean.reset(seed=0)[0])
    restarted = np.zeros(2, dtype=bool)  # next-step autoreset: the reset comes a step later
    seen_reset = False
    for _ in range(60):
        actions = np.ones(2, dtype=np.int64)
        obs, _, terminated, truncated, _ = envs.step(actions)
        ref, _, ref_terminated, _, _ = clean.step(actions)
        np.testing.assert_array_equal(terminated, ref_terminated)
        np.testing.assert_array_equal(np.any(obs != ref, axis=1), restarted)
        seen_reset |= bool(restarted.any())
        restarted = terminated | truncated
    assert seen_reset
