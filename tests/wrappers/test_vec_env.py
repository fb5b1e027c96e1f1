"""VecObservationNoise on SB3 VecEnvs: batched exact draws, terminal observations, VecNormalize."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from rlnoise.core.clock import NoiseSource
from rlnoise.core.random import derive_seed, make_rng
from rlnoise.core.stream import NoiseStream
from rlnoise.wrappers import VecObservationNoise
from tests.wrappers.helpers import unit, white

KEY = ("observation",)
N = 4
ACTIONS = np.random.default_rng(0).integers(0, 2, size=(400, N))


def venv(seed: int = 11, **kwargs):
    return make_vec_env("CartPole-v1", n_envs=N, seed=seed, **kwargs)


def rollout(noisy, clean, steps: int):
    """Step both VecEnvs with the same actions; yield (noisy, clean) step results."""
    yield noisy.reset(), clean.reset(), None, None, None
    for k in range(steps):
        obs, _, dones, infos = noisy.step(ACTIONS[k])
        ref, _, ref_dones, ref_infos = clean.step(ACTIONS[k])
        np.testing.assert_array_equal(dones, ref_dones)
        yield obs, ref, dones, infos, ref_infos


def test_rows_follow_their_own_seeds_and_terminal_observations_get_noise() -> None:
    noisy, clean = VecObservationNoise(venv(), "gaussian:0.1"), venv()
    main = [white(11 + i, KEY, (4,), 200, 0.1) for i in range(N)]
    final = [white(11 + i, (*KEY, "final"), (4,), 200, 0.1) for i in range(N)]
    done_steps = 0
    for c, (obs, ref, dones, infos, ref_infos) in enumerate(rollout(noisy, clean, 150)):
        # Row i is sub-env i's stream (seed 11 + i), one draw per step, episodes or not.
        np.testing.assert_array_equal(obs, ref + np.stack([main[i][c] for i in range(N)]))
        if dones is not None and dones.any():
            for i in np.flatnonzero(dones):
                got = infos[i]["terminal_observation"]
                want = ref_infos[i]["terminal_observation"] + final[i][done_steps]
                np.testing.assert_array_equal(got, want)
            done_steps += 1
    assert done_steps >= 3


@pytest.mark.parametrize("mean", [0.0, 0.7])
def test_ou_terminal_observation_continues_its_episode_process(mean: float) -> None:
    spec = f"ou:0.5,theta=2.0,dt=0.1,mean={mean}"
    noisy, clean = VecObservationNoise(venv(), spec), venv()
    main = [unit(11 + i, KEY, (4,), 200) for i in range(N)]
    side = [unit(11 + i, (*KEY, "final"), (4,), 200) for i in range(N)]
    decay, sigma = 1 - 2.0 * 0.1, 0.5 * np.sqrt(0.1)
    previous, done_steps, checked = None, 0, 0
    for c, (obs, ref, dones, infos, ref_infos) in enumerate(rollout(noisy, clean, 150)):
        if dones is not None and dones.any():
            for i in np.flatnonzero(dones):
                final = infos[i]["terminal_observation"] - ref_infos[i]["terminal_observation"]
                # One more step of the row's process (SB3's recursion):
                # x' = x + theta (mean - x) dt + sigma sqrt(dt) eps.
                expected = decay * previous[i] + 2.0 * mean * 0.1 + sigma * side[i][done_steps]
                np.testing.assert_allclose(final, expected, atol=1e-5)
                # ...while the reset observation starts a new process from zero.
                first = 2.0 * mean * 0.1 + sigma * main[i][c]
                np.testing.assert_allclose(obs[i] - ref[i], first, atol=1e-5)
                checked += 1
            done_steps += 1
        previous = obs - ref
    assert checked >= 3


def test_noise_in_raw_units_before_vecnormalize_and_in_normalised_units_after() -> None:
    draws = np.stack([white(11 + i, KEY, (4,), 30, 0.1) for i in range(N)], axis=1)
    # Before: VecNormalize sees (and normalises) the noisy raw observations.
    raw_noise = VecNormalize(VecObservationNoise(venv(), "gaussian:0.1"))
    raw_clean = venv()
    for c, (_, ref, *_) in enumerate(rollout(raw_noise, raw_clean, 20)):
        np.testing.assert_array_equal(raw_noise.get_original_obs(), ref + draws[c])
    # After: the noise is added to the normalised observations; the statistics stay clean.
    after = VecObservationNoise(VecNormalize(venv()), "gaussian:0.1")
    normalised = VecNormalize(venv())
    for c, (obs, ref, *_) in enumerate(rollout(after, normalised, 20)):
        np.testing.assert_array_equal(obs, ref + draws[c])
    np.testing.assert_array_equal(after.venv.obs_rms.mean, normalised.obs_rms.mean)


def test_several_noise_levels_and_specs_in_one_batch() -> None:
    levels = [0.0, 0.1, 1.0, 0.5]
    noisy, clean = VecObservationNoise(venv(), "gaussian:1", scale_per_env=levels), venv()
    for c, (obs, ref, *_) in enumerate(rollout(noisy, clean, 10)):
        for i, level in enumerate(levels):
            np.testing.assert_array_equal(obs[i], ref[i] + white(11 + i, KEY, (4,), 11, level)[c])
    mixed = ["gaussian:0.2", None, "uniform:0.3", "gaussian:0.4"]
    noisy, clean = VecObservationNoise(venv(), specs_per_env=mixed), venv()
    assert noisy.noise_scales() == {"observation": pytest.approx((0.2 + 0.3 + 0.4) / 3)}
    for c, (obs, ref, *_) in enumerate(rollout(noisy, clean, 10)):
        np.testing.assert_array_equal(obs[1], ref[1])  # the clean sub-env
        for i, level in ((0, 0.2), (3, 0.4)):
            np.testing.assert_array_equal(obs[i], ref[i] + white(11 + i, KEY, (4,), 11, level)[c])
        assert np.all(np.abs(obs[2] - ref[2]) <= 0.3 + 1e-6)
    # Uniform widens by its half-width, Gaussian is unbounded: the union holds every row.
    assert noisy.observation_space.high.tolist() == [np.inf] * 4


def test_dict_observations_and_their_terminal_observations() -> None:
    make = lambda: gym.wrappers.TimeAwareObservation(gym.make("CartPole-v1"), flatten=False)  # noqa: E731
    noisy = VecObservationNoise(make_vec_env(make, n_envs=N, seed=5), {"obs": "gaussian:0.1"})
    clean = make_vec_env(make, n_envs=N, seed=5)
    ended = 0
    for obs, ref, dones, infos, ref_infos in rollout(noisy, clean, 80):
        np.testing.assert_array_equal(obs["time"], ref["time"])
        assert not np.array_equal(obs["obs"], ref["obs"])
        if dones is not None:
            for i in np.flatnonzero(dones):
                final, ref_final = (
                    infos[i]["terminal_observation"],
                    ref_infos[i]["terminal_observation"],
                )
                np.testing.assert_array_equal(final["time"], ref_final["time"])
                assert np.all(final["obs"] != ref_final["obs"])
                assert np.all(np.abs(final["obs"] - ref_final["obs"]) < 1.0)
                ended += 1
    assert ended >= 2


def test_seeding_switch_and_outside_clock() -> None:
    noisy = VecObservationNoise(DummyVecEnv([lambda: gym.make("CartPole-v1")] * N), "gaussian:0.1")
    noisy.seed(3)
    first = noisy.reset()
    noisy.seed(3)
    np.testing.assert_array_equal(noisy.reset(), first)
    noisy.noise_enabled = False
    clean = DummyVecEnv([lambda: gym.make("CartPole-v1")] * N)
    clean.seed(3)
    noisy.seed(3)
    np.testing.assert_array_equal(noisy.reset(), clean.reset())
    assert isinstance(noisy, NoiseSource)
    spec = {"kind": "gaussian", "scale": 1.0, "schedule": {"type": "linear", "steps": 100}}
    scheduled = VecObservationNoise(venv(), spec)
    scheduled.reset()
    scheduled.step(ACTIONS[0])  # local clock counts transitions: N per step
    assert scheduled.noise_scales() == {"observation": pytest.approx(1 - N / 100)}
    scheduled.set_noise_step(50)
    scheduled.step(ACTIONS[1])
    assert scheduled.noise_scales() == {"observation": pytest.approx(0.5)}
    # Never seeded: OS entropy per row, so rows differ even for identical clean states.
    unseeded = VecObservationNoise(DummyVecEnv([lambda: gym.make("CartPole-v1")] * N), "gaussian:1")
    noise = unseeded.reset() - np.array(unseeded.get_attr("state"), dtype=np.float32)
    assert len({tuple(row) for row in noise.round(4)}) == N


def test_bad_arguments_name_the_problem() -> None:
    with pytest.raises(ValueError, match="exactly one of spec"):
        VecObservationNoise(venv(), "gaussian:0.1", specs_per_env=["gaussian:0.1"] * N)
    with pytest.raises(ValueError, match="3 entries for 4 sub-envs"):
        VecObservationNoise(venv(), specs_per_env=["gaussian:0.1"] * 3)
    with pytest.raises(ValueError, match="scale_per_env must be a list of 4"):
        VecObservationNoise(venv(), "gaussian:0.1", scale_per_env=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"scale_per_env\[1\].*scale must be <= 1.0"):
        VecObservationNoise(venv(), "dropout:0.1", scale_per_env=[0.1, 2.0, 0.1, 0.1])
    with pytest.raises(ValueError, match="every spec is None"):
        VecObservationNoise(venv(), specs_per_env=[None] * N)
    with pytest.raises(ValueError, match="Discrete"):
        VecObservationNoise(make_vec_env("FrozenLake-v1", n_envs=2), "gaussian:0.1")


def test_rl_zoo_config_and_a_ppo_rollout() -> None:
    zoo = pytest.importorskip("rl_zoo3.utils", reason="rl_zoo3 is not installed")
    get_wrapper_class = zoo.get_wrapper_class
    wrap = get_wrapper_class(
        {"vec_env_wrapper": [{"rlnoise.wrappers.VecObservationNoise": {"spec": "gaussian:0.1"}}]},
        key="vec_env_wrapper",
    )
    env = wrap(venv())
    assert isinstance(env, VecObservationNoise)
    assert env.noise_scales() == {"observation": pytest.approx(0.1)}  # the YAML kwargs arrived
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=1, device="cpu", seed=0)
    model.learn(128)
    assert model.num_timesteps == 64 * N  # one rollout of 64 steps on N sub-envs
    # The rollout the update used holds the noisy observations: with the same seed, a
    # rollout on the clean VecEnv stores different ones.
    clean = PPO("MlpPolicy", venv(), n_steps=64, batch_size=64, n_epochs=1, device="cpu", seed=0)
    clean.learn(128)
    assert not np.array_equal(model.rollout_buffer.observations, clean.rollout_buffer.observations)


def test_mask_kinds_on_terminal_observations() -> None:
    noisy, clean = VecObservationNoise(venv(), "dropout:0.5"), venv()
    seen, dropped, entries = 0, 0, 0
    for obs, ref, dones, infos, ref_infos in rollout(noisy, clean, 100):
        assert np.all((obs == 0) | (obs == ref))
        assert np.all(ref != 0)  # so a zero in obs is a dropped entry
        dropped += int((obs == 0).sum())
        entries += obs.size
        if dones is not None:
            for i in np.flatnonzero(dones):
                final, want = infos[i]["terminal_observation"], ref_infos[i]["terminal_observation"]
                assert np.all((final == 0) | (final == want))
                seen += 1
    assert seen >= 3
    # Half of all entries dropped in the batch observations: the dropped fraction of the
    # 101 x 4 x 4 entries has SE sqrt(0.25 / entries) = 0.012; 5 SE: a correct mask fails
    # with probability < 1e-6 (and a mask that never or always drops fails for sure).
    assert abs(dropped / entries - 0.5) < 5 * np.sqrt(0.25 / entries)


def test_scheduled_noise_on_terminal_observations_follows_the_schedule() -> None:
    spec = {"kind": "gaussian", "scale": 1.0, "schedule": {"type": "linear", "steps": 400}}
    noisy, clean = VecObservationNoise(venv(), spec), venv()
    final = [unit(11 + i, (*KEY, "final"), (4,), 200) for i in range(N)]
    done_steps = 0
    for c, (_, _, dones, infos, ref_infos) in enumerate(rollout(noisy, clean, 60)):
        if dones is not None and dones.any():
            factor = 1 - c * N / 400  # the transitions counted so far
            for i in np.flatnonzero(dones):
                got = infos[i]["terminal_observation"] - ref_infos[i]["terminal_observation"]
                np.testing.assert_allclose(got, final[i][done_steps] * factor, atol=1e-6)
            done_steps += 1
    assert done_steps >= 2


def test_colored_noise_rows_equal_single_streams_with_episode_restarts() -> None:
    spec = "colored:0.3,beta=1"
    noisy, clean = VecObservationNoise(venv(), spec), venv()
    # Row i is a single-row stream of sub-env i's seed, restarted at its episode ends.
    streams = [
        NoiseStream(spec, (4,), make_rng(derive_seed(11 + i, *KEY)), dtype=np.float32)
        for i in range(N)
    ]
    restarts = 0
    for obs, ref, dones, infos, ref_infos in rollout(noisy, clean, 120):
        if dones is not None:
            for i in np.flatnonzero(dones):
                final = infos[i]["terminal_observation"] - ref_infos[i]["terminal_observation"]
                # The final observation continues the episode's sequence by one element.
                np.testing.assert_allclose(final, streams[i].sample(), atol=1e-6)
                streams[i].reset()
                restarts += 1
        np.testing.assert_allclose(obs - ref, np.stack([s.sample() for s in streams]), atol=1e-6)
    assert restarts >= 3
