"""SpecActionNoise with TD3: the draws are the ones acted on, per env, reset per episode, saved."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from stable_baselines3 import TD3
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.noise import VectorizedActionNoise

from rlnoise.exploration import ExplorationStreams, SpecActionNoise

SHORT = {"max_episode_steps": 4}  # Pendulum episodes of 4 steps: several ends in a short run


class Recorder(BaseCallback):
    """Per step: the noise draw, the action SB3 stored, and the policy's own action."""

    def __init__(self, noise: SpecActionNoise):
        super().__init__()
        self.noise = noise
        self.steps: list[dict[str, Any]] = []

    def _on_step(self) -> bool:
        model = self.model
        # The observation the action was computed from (SB3 updates _last_obs after on_step).
        clean, _ = model.policy.predict(model._last_obs, deterministic=True)
        self.steps.append(
            {
                "eps": self.noise.streams.last.copy(),
                "stored": self.locals["buffer_actions"].copy(),
                "clean": model.policy.scale_action(clean),
                "dones": self.locals["dones"].copy(),
            }
        )
        return True


def _td3(n_envs: int, noise: SpecActionNoise, seed: int = 0) -> TD3:
    env = make_vec_env("Pendulum-v1", n_envs=n_envs, seed=seed, env_kwargs=SHORT)
    # gradient_steps=0: acting only, so each step's policy is the one that acted.
    return TD3("MlpPolicy", env, action_noise=noise, learning_starts=0, gradient_steps=0,
               device="cpu", seed=seed)  # fmt: skip


def test_the_stored_action_is_the_policys_plus_the_recorded_draw() -> None:
    noise = SpecActionNoise("colored:0.3,beta=1,length=16", action_dim=1, n_envs=2, seed=0)
    recorder = Recorder(noise)
    _td3(2, noise).learn(12, callback=recorder)
    assert len(recorder.steps) == 6
    for step in recorder.steps:
        np.testing.assert_array_equal(step["stored"], np.clip(step["clean"] + step["eps"], -1, 1))


def test_sb3_keeps_it_as_is_with_several_envs_and_the_envs_draw_independently() -> None:
    noise = SpecActionNoise("ou:0.3", action_dim=1, n_envs=3, seed=0)
    model = _td3(3, noise)
    recorder = Recorder(noise)
    model.learn(9, callback=recorder)
    assert model.action_noise is noise  # not wrapped (and deep-copied) by SB3
    assert isinstance(noise, VectorizedActionNoise)
    eps = np.stack([step["eps"] for step in recorder.steps])
    assert eps.shape == (3, 3, 1)
    assert len({eps[:, env, 0].tobytes() for env in range(3)}) == 3


def test_each_env_restarts_its_noise_when_its_episode_ends() -> None:
    spec = "colored:0.3,beta=2,length=16"
    noise = SpecActionNoise(spec, action_dim=1, n_envs=2, seed=5)
    recorder = Recorder(noise)
    _td3(2, noise).learn(20, callback=recorder)
    # Replay: the same streams, restarted where SB3 saw an episode end (and at learn start).
    replay = ExplorationStreams(spec, 1, n_envs=2, seed=5)
    replay.reset()
    for step in recorder.steps:
        np.testing.assert_array_equal(step["eps"], replay.sample())
        replay.reset(np.flatnonzero(step["dones"]))
    assert sum(step["dones"].sum() for step in recorder.steps) == 4  # 10 steps, 4-step episodes


def test_same_seed_same_actions() -> None:
    def stored(seed: int) -> np.ndarray:
        noise = SpecActionNoise("colored:0.3", action_dim=1, n_envs=2, seed=seed)
        recorder = Recorder(noise)
        _td3(2, noise).learn(10, callback=recorder)
        return np.stack([step["stored"] for step in recorder.steps])

    np.testing.assert_array_equal(stored(1), stored(1))
    assert not np.array_equal(stored(1), stored(2))


def test_save_and_load_continue_the_streams(tmp_path: Any) -> None:
    noise = SpecActionNoise("colored:0.3,length=16", action_dim=1, n_envs=1, seed=0)
    model = _td3(1, noise)
    model.learn(6)
    model.save(tmp_path / "td3")
    loaded = TD3.load(tmp_path / "td3", device="cpu")
    assert isinstance(loaded.action_noise, SpecActionNoise)
    np.testing.assert_array_equal(
        np.stack([loaded.action_noise() for _ in range(20)]), np.stack([noise() for _ in range(20)])
    )


def test_too_few_streams_for_the_env_is_an_error_at_the_first_episode_end() -> None:
    noise = SpecActionNoise("gaussian:0.1", action_dim=1, n_envs=1, seed=0)
    model = TD3("MlpPolicy", make_vec_env("Pendulum-v1", n_envs=2, env_kwargs=SHORT),
                action_noise=noise, learning_starts=0, gradient_steps=0, device="cpu")  # fmt: skip
    with pytest.raises(ValueError, match="outside the 1 exploration streams"):
        model.learn(8)


def test_action_dim_from_a_box_and_bad_action_spaces() -> None:
    from gymnasium import spaces

    assert SpecActionNoise("gaussian:0.1", spaces.Box(-1, 1, (3,)))().shape == (1, 3)
    with pytest.raises(ValueError, match="continuous"):
        SpecActionNoise("gaussian:0.1", spaces.Discrete(3))
    with pytest.raises(ValueError, match="flat Box"):
        SpecActionNoise("gaussian:0.1", spaces.Box(-1, 1, (2, 2)))


def test_it_is_a_noise_source_for_a_shared_clock() -> None:
    from rlnoise.core.clock import NoiseSource

    spec = {"kind": "gaussian", "scale": 0.2,
            "schedule": {"type": "linear", "start": 1.0, "end": 0.0, "steps": 10}}  # fmt: skip
    noise = SpecActionNoise(spec, action_dim=1, seed=0)
    assert isinstance(noise, NoiseSource)
    noise.set_noise_step(5)
    assert noise.noise_scales() == {"exploration": pytest.approx(0.1)}
