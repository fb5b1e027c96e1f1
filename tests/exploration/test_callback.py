"""ExplorationNoiseCallback: SAC and PPO act with the streams' draws; log-probs; lifecycle."""

from __future__ import annotations

import json
import zipfile
from typing import Any

import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.distributions import (
    DiagGaussianDistribution,
    SquashedDiagGaussianDistribution,
)
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.noise import NormalActionNoise

from rlnoise.exploration import (
    ExplorationNoiseCallback,
    ExplorationStreams,
    SpecActionNoise,
    StreamDiagGaussian,
    StreamSquashedDiagGaussian,
)

PINK = "colored:1,beta=1,length=16"
SHORT = {"max_episode_steps": 4}


def _sac(n_envs: int = 2, seed: int = 0, **kwargs: Any) -> SAC:
    env = make_vec_env("MountainCarContinuous-v0", n_envs=n_envs, seed=seed, env_kwargs=SHORT)
    kwargs = {"learning_starts": 0, "gradient_steps": 0, **kwargs}
    return SAC("MlpPolicy", env, device="cpu", seed=seed, **kwargs)


def _ppo(algo: Any = PPO, n_envs: int = 2, seed: int = 0, **kwargs: Any) -> Any:
    env = make_vec_env("Pendulum-v1", n_envs=n_envs, seed=seed, env_kwargs=SHORT)
    extra = {"batch_size": 8, "n_epochs": 1} if algo is PPO else {}
    return algo("MlpPolicy", env, n_steps=8, device="cpu", seed=seed, **extra, **kwargs)


class SACRecorder(BaseCallback):
    """Per step: the streams' draw, SB3's stored (scaled) action and the Gaussian's parameters."""

    def __init__(self, noise: ExplorationNoiseCallback):
        super().__init__()
        self.noise = noise
        self.steps: list[dict[str, Any]] = []

    def _on_step(self) -> bool:
        actor = self.model.actor
        obs = torch.as_tensor(self.model._last_obs)  # the observation that was acted on
        with torch.no_grad():
            mean, log_std, _ = actor.get_action_dist_params(obs)
        assert self.noise.streams is not None
        self.steps.append(
            {
                "eps": self.noise.streams.last.copy(),
                "stored": self.locals["buffer_actions"].copy(),
                "mean": mean.numpy(),
                "std": log_std.exp().numpy(),
                "dones": self.locals["dones"].copy(),
            }
        )
        return True


def test_sac_acts_with_tanh_of_mean_plus_std_times_the_recorded_draw() -> None:
    noise = ExplorationNoiseCallback(PINK, seed=0)
    recorder = SACRecorder(noise)
    _sac().learn(12, callback=[noise, recorder])
    for step in recorder.steps:
        expected = np.tanh(step["mean"] + step["std"] * step["eps"])
        # SB3 unscales the action to the space and scales it back: float32 rounding only.
        np.testing.assert_allclose(step["stored"], expected, rtol=0, atol=4e-7)
    assert len({step["eps"].tobytes() for step in recorder.steps}) == len(recorder.steps)


def test_sac_restarts_each_envs_stream_at_its_episode_end() -> None:
    noise = ExplorationNoiseCallback(PINK, seed=3)
    recorder = SACRecorder(noise)
    _sac().learn(20, callback=[noise, recorder])
    replay = ExplorationStreams(PINK, 1, n_envs=2, seed=3)
    for step in recorder.steps:
        np.testing.assert_array_equal(step["eps"], replay.sample())
        replay.reset(np.flatnonzero(step["dones"]))
    assert sum(step["dones"].sum() for step in recorder.steps) == 4


def test_same_seed_same_actions_and_the_default_seed_follows_the_models() -> None:
    def stored(model_seed: int, noise_seed: int | None) -> np.ndarray:
        noise = ExplorationNoiseCallback(PINK, seed=noise_seed)
        recorder = SACRecorder(noise)
        _sac(seed=model_seed).learn(8, callback=[noise, recorder])
        return np.stack([step["stored"] for step in recorder.steps])

    np.testing.assert_array_equal(stored(0, 5), stored(0, 5))
    assert not np.array_equal(stored(0, 5), stored(0, 6))
    np.testing.assert_array_equal(stored(1, None), stored(1, None))  # from the model's seed


def test_the_distribution_is_installed_for_learn_only_and_the_saved_model_is_plain_sb3(
    tmp_path: Any,
) -> None:
    model = _sac()
    seen: list[Any] = []

    class Look(BaseCallback):
        def _on_step(self) -> bool:
            seen.append(type(self.model.actor.action_dist))
            return True

    noise = ExplorationNoiseCallback(PINK, seed=0)
    model.learn(4, callback=[noise, Look()])
    assert set(seen) == {StreamSquashedDiagGaussian}
    assert type(model.actor.action_dist) is SquashedDiagGaussianDistribution
    model.save(tmp_path / "sac")
    with zipfile.ZipFile(tmp_path / "sac.zip") as archive:
        assert "rlnoise" not in archive.read("data").decode()  # loads without rlnoise
    loaded = SAC.load(tmp_path / "sac", env=model.get_env(), device="cpu")
    obs = model.get_env().reset()
    np.testing.assert_array_equal(
        loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0]
    )
    streams = noise.streams
    loaded.learn(4, callback=noise, reset_num_timesteps=False)  # continues the same streams
    assert noise.streams is streams
    assert type(loaded.actor.action_dist) is SquashedDiagGaussianDistribution


def test_deterministic_predict_during_learn_is_the_mode_and_draws_nothing() -> None:
    noise = ExplorationNoiseCallback(PINK, seed=0)
    checks: list[bool] = []

    class Probe(BaseCallback):
        def _on_step(self) -> bool:
            assert noise.streams is not None
            obs = self.model._last_obs
            before = noise.streams.last.copy()
            actions, _ = self.model.predict(obs, deterministic=True)
            with torch.no_grad():
                mean, _, _ = self.model.actor.get_action_dist_params(torch.as_tensor(obs))
            checks.append(np.allclose(actions, np.tanh(mean.numpy()), rtol=0, atol=4e-7))
            checks.append(np.array_equal(noise.streams.last, before))
            return True

    twin = ExplorationNoiseCallback(PINK, seed=0)
    recorder, twin_recorder = SACRecorder(noise), SACRecorder(twin)
    _sac().learn(6, callback=[noise, recorder, Probe()])
    _sac().learn(6, callback=[twin, twin_recorder])
    assert checks and all(checks)
    for probed, plain in zip(recorder.steps, twin_recorder.steps, strict=True):
        np.testing.assert_array_equal(probed["eps"], plain["eps"])  # no draw was taken


def test_a_stochastic_predict_of_another_batch_size_during_learn_is_a_clear_error() -> None:
    class Predict(BaseCallback):
        def _on_step(self) -> bool:
            self.model.predict(np.zeros((3, 2), np.float32), deterministic=False)
            return True

    with pytest.raises(ValueError, match="one row per env, shape"):
        _sac().learn(4, callback=[ExplorationNoiseCallback(PINK, seed=0), Predict()])


class PPORecorder(BaseCallback):
    """Per step: the draw and the raw action; at rollout end: stored vs recomputed log-probs."""

    def __init__(self, noise: ExplorationNoiseCallback):
        super().__init__()
        self.noise = noise
        self.steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.log_probs: list[tuple[np.ndarray, np.ndarray]] = []

    def _on_step(self) -> bool:
        assert self.noise.streams is not None
        obs = self.locals["obs_tensor"]  # what the actions were sampled for (no update since)
        with torch.no_grad():
            gaussian = self.model.policy.get_distribution(obs).distribution
        expected = gaussian.mean + gaussian.stddev * torch.as_tensor(self.noise.streams.last)
        self.steps.append((self.noise.streams.last.copy(), self.locals["actions"].copy(),
                           expected.numpy()))  # fmt: skip
        return True

    def _on_rollout_end(self) -> None:
        # Before train(): the policy that acted, the buffer PPO is about to learn from.
        buffer = self.model.rollout_buffer
        obs = torch.as_tensor(buffer.swap_and_flatten(buffer.observations))
        actions = torch.as_tensor(buffer.swap_and_flatten(buffer.actions))
        with torch.no_grad():
            _, log_prob, _ = self.model.policy.evaluate_actions(obs, actions)
        stored = buffer.swap_and_flatten(buffer.log_probs)[:, 0]
        self.log_probs.append((stored, log_prob.numpy()))


@pytest.mark.parametrize("algo", [PPO, A2C])
def test_on_policy_acts_with_mean_plus_std_times_the_draw_and_stores_its_log_prob(
    algo: Any,
) -> None:
    noise = ExplorationNoiseCallback(PINK, seed=0)
    recorder = PPORecorder(noise)
    model = _ppo(algo)
    model.learn(32, callback=[noise, recorder])  # two rollouts of 8 steps x 2 envs
    policy = model.policy
    assert len(recorder.log_probs) == 2  # two rollouts, the second after an update
    for stored, recomputed in recorder.log_probs:
        # Same action, same Gaussian: equal up to float32 rounding of one log-density.
        np.testing.assert_allclose(stored, recomputed, rtol=0, atol=1e-5)
    assert len({eps.tobytes() for eps, _, _ in recorder.steps}) == len(recorder.steps) == 16
    for _, actions, expected in recorder.steps:
        np.testing.assert_array_equal(actions, expected)  # the same float32 operations
    assert type(policy.action_dist) is DiagGaussianDistribution  # restored


def test_on_policy_with_a_non_standard_marginal_warns_about_the_ratio() -> None:
    with pytest.warns(UserWarning, match="importance ratios are relative to the policy"):
        _ppo().learn(8, callback=ExplorationNoiseCallback("ou:0.3", seed=0))


def test_td3_gets_spec_action_noise_for_the_length_of_learn() -> None:
    model = TD3("MlpPolicy", make_vec_env("Pendulum-v1", n_envs=2, env_kwargs=SHORT),
                learning_starts=0, gradient_steps=0, device="cpu", seed=0)  # fmt: skip
    noise = ExplorationNoiseCallback("colored:0.3", seed=0)
    seen: list[Any] = []

    class Look(BaseCallback):
        def _on_step(self) -> bool:
            seen.append(self.model.action_noise)
            return True

    model.learn(4, callback=[noise, Look()])
    assert all(isinstance(n, SpecActionNoise) and n.streams is noise.streams for n in seen)
    assert model.action_noise is None
    model.learn(4, callback=noise)  # a second learn reuses the streams
    with pytest.raises(ValueError, match="already has action_noise"):
        TD3("MlpPolicy", "Pendulum-v1", action_noise=NormalActionNoise(np.zeros(1), np.ones(1)),
            device="cpu").learn(2, callback=ExplorationNoiseCallback("gaussian:0.1"))  # fmt: skip


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DQN("MlpPolicy", "CartPole-v1", device="cpu"), r"continuous \(Box\) actions"),
        (
            lambda: PPO("MlpPolicy", "CartPole-v1", n_steps=8, batch_size=8, device="cpu"),
            r"continuous \(Box\) actions",
        ),
        (lambda: _sac(use_sde=True), "gSDE"),
    ],
)
def test_algorithms_without_a_gaussian_to_sample_are_refused(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build().learn(8, callback=ExplorationNoiseCallback("gaussian:1"))


def test_the_distribution_classes_keep_sb3s_training_sample() -> None:
    # log_prob_from_params (SAC's update) draws SB3's i.i.d. sample, not the streams'.
    streams = ExplorationStreams(PINK, 2, n_envs=4, seed=0)
    for cls in (StreamDiagGaussian, StreamSquashedDiagGaussian):
        dist = cls(2, streams)
        torch.manual_seed(0)
        actions, log_prob = dist.log_prob_from_params(torch.zeros(256, 2), torch.zeros(2))
        assert streams.last is None and actions.shape == (256, 2) and log_prob.shape == (256,)
        plain = (SquashedDiagGaussianDistribution if "Squashed" in cls.__name__
                 else DiagGaussianDistribution)(2)  # fmt: skip
        torch.manual_seed(0)
        expected, _ = plain.log_prob_from_params(torch.zeros(256, 2), torch.zeros(2))
        assert torch.equal(actions, expected)


def test_loss_of_json_safety_is_not_introduced_in_the_saved_data(tmp_path: Any) -> None:
    model = _ppo()
    model.learn(8, callback=ExplorationNoiseCallback(PINK, seed=0))
    model.save(tmp_path / "ppo")
    with zipfile.ZipFile(tmp_path / "ppo.zip") as archive:
        data = json.loads(archive.read("data"))
    assert "rlnoise" not in json.dumps(data)
