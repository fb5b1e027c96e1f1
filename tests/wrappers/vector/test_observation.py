"""Vector ObservationNoise on Gymnasium VectorEnvs: autoreset modes, rows, final observations."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from rlnoise.core.random import derive_seed, make_rng
from rlnoise.core.stream import NoiseStream
from rlnoise.wrappers import ObservationNoise as SingleObservationNoise
from rlnoise.wrappers.vector import ObservationNoise
from tests.wrappers.helpers import white

KEY = ("observation",)
N = 4
ACTIONS = np.random.default_rng(1).integers(0, 2, size=(400, N))


def vector(mode: AutoresetMode = AutoresetMode.NEXT_STEP, env_id: str = "CartPole-v1", **kwargs):
    return gym.make_vec(
        env_id,
        num_envs=N,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": mode},
        **kwargs,
    )


@pytest.mark.parametrize(
    "spec", ["gaussian:0.1", "ou:0.5,theta=1.0,dt=0.1", "uniform:0.2,resample=episode"]
)
def test_next_step_batch_equals_one_single_wrapper_per_sub_env(spec) -> None:
    batched = ObservationNoise(vector(), spec)
    per_env = vector(wrappers=[lambda env: SingleObservationNoise(env, spec)])
    obs, _ = batched.reset(seed=5)
    ref, _ = per_env.reset(seed=5)
    np.testing.assert_array_equal(obs, ref)
    ends = 0
    for k in range(200):
        obs, _, term, trunc, _ = batched.step(ACTIONS[k])
        ref, _, ref_term, ref_trunc, _ = per_env.step(ACTIONS[k])
        # Final observations, autoreset steps and episode restarts included.
        np.testing.assert_array_equal(obs, ref)
        np.testing.assert_array_equal(term | trunc, ref_term | ref_trunc)
        ends += int((term | trunc).sum())
    assert ends >= 8
    assert obs in batched.observation_space


def test_same_step_final_observations_get_noise_and_rows_keep_their_streams() -> None:
    noisy = ObservationNoise(vector(AutoresetMode.SAME_STEP), "gaussian:0.1")
    clean = vector(AutoresetMode.SAME_STEP)
    main = [white(5 + i, KEY, (4,), 200, 0.1) for i in range(N)]
    side = [white(5 + i, (*KEY, "final"), (4,), 200, 0.1) for i in range(N)]
    obs, _ = noisy.reset(seed=5)
    ref, _ = clean.reset(seed=5)
    final_steps = 0
    for c in range(1, 150):
        np.testing.assert_array_equal(obs, ref + np.stack([m[c - 1] for m in main]))
        obs, _, _, _, infos = noisy.step(ACTIONS[c])
        ref, _, _, _, ref_infos = clean.step(ACTIONS[c])
        if "_final_obs" in ref_infos and ref_infos["_final_obs"].any():
            np.testing.assert_array_equal(infos["_final_obs"], ref_infos["_final_obs"])
            for i in np.flatnonzero(ref_infos["_final_obs"]):
                want = ref_infos["final_obs"][i] + side[i][final_steps]
                np.testing.assert_array_equal(infos["final_obs"][i], want)
            final_steps += 1
    assert final_steps >= 3


def test_disabled_autoreset_restarts_only_the_masked_rows() -> None:
    spec = "ou:0.5,theta=1.0,dt=0.1"
    noisy, clean = (
        ObservationNoise(vector(AutoresetMode.DISABLED), spec),
        vector(AutoresetMode.DISABLED),
    )
    # Each row is its own single-row stream; every call (step or partial reset) draws once.
    streams = [
        NoiseStream(spec, (4,), make_rng(derive_seed(9 + i, *KEY)), dtype=np.float32)
        for i in range(N)
    ]

    def check(obs: np.ndarray, ref: np.ndarray) -> None:
        np.testing.assert_array_equal(obs, ref + np.stack([s.sample() for s in streams]))

    check(noisy.reset(seed=9)[0], clean.reset(seed=9)[0])
    restarts = 0
    for k in range(120):
        obs, _, term, trunc, _ = noisy.step(ACTIONS[k])
        ref, *_ = clean.step(ACTIONS[k])
        check(obs, ref)
        done = term | trunc
        if done.any():
            for i in np.flatnonzero(done):
                streams[i].reset()
            restarts += int(done.sum())
            check(
                noisy.reset(options={"reset_mask": done.copy()})[0],
                clean.reset(options={"reset_mask": done.copy()})[0],
            )
    assert restarts >= 3


def test_seed_lists_mixed_levels_and_the_switch() -> None:
    noisy = ObservationNoise(vector(), "gaussian:1", scale_per_env=[0.0, 0.5, 1.0, 2.0])
    clean = vector()
    obs, _ = noisy.reset(seed=[20, None, 22, None])
    ref, _ = clean.reset(seed=[20, None, 22, None])
    np.testing.assert_array_equal(obs[0], ref[0])  # scale 0
    np.testing.assert_array_equal(obs[2], ref[2] + white(22, KEY, (4,), 1, 1.0)[0])
    noisy.noise_enabled = False
    obs, *_ = noisy.step(ACTIONS[0])
    ref, *_ = clean.step(ACTIONS[0])
    np.testing.assert_array_equal(obs[[0, 2]], ref[[0, 2]])  # rows 1, 3: unseeded envs
    assert noisy.noise_scales() == {"observation": 0.0}
    noisy.noise_enabled = True
    assert noisy.noise_scales() == {"observation": pytest.approx(3.5 / 4)}


def test_dict_observations_with_same_step_final_observations() -> None:
    dict_obs = [lambda env: gym.wrappers.TimeAwareObservation(env, flatten=False)]
    noisy = ObservationNoise(
        vector(AutoresetMode.SAME_STEP, wrappers=dict_obs), {"obs": "gaussian:0.1"}
    )
    clean = vector(AutoresetMode.SAME_STEP, wrappers=dict_obs)
    assert noisy.single_observation_space["obs"].high.tolist() == [np.inf] * 4
    obs, _ = noisy.reset(seed=2)
    ref, _ = clean.reset(seed=2)
    finals = 0
    for k in range(100):
        np.testing.assert_array_equal(obs["time"], ref["time"])
        obs, _, _, _, infos = noisy.step(ACTIONS[k])
        ref, _, _, _, ref_infos = clean.step(ACTIONS[k])
        for i in np.flatnonzero(ref_infos.get("_final_obs", np.zeros(N, bool))):
            got, want = infos["final_obs"][i], ref_infos["final_obs"][i]
            np.testing.assert_array_equal(got["time"], want["time"])
            assert np.all(got["obs"] != want["obs"])
            finals += 1
    assert finals >= 2


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="Discrete"):
        ObservationNoise(vector(env_id="FrozenLake-v1"), "gaussian:0.1")
    with pytest.raises(ValueError, match="3 entries for 4 sub-envs"):
        ObservationNoise(vector(), specs_per_env=["gaussian:0.1"] * 3)
