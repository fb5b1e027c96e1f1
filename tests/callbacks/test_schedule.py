"""NoiseScheduleCallback: one clock for worker wrappers, VecEnv wrappers, policies, callbacks."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO, TD3
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import (
    DummyVecEnv,
    SubprocVecEnv,
    VecEnv,
    VecEnvWrapper,
    VecNormalize,
)

from rlnoise.callbacks import (
    GradientNoiseCallback,
    NoiseScheduleCallback,
    find_noise_sources,
    is_noise_source,
)
from tests.callbacks.helpers import (
    SPEC,
    Capture,
    Probe,
    ScheduledPolicy,
    ScheduledWrapper,
    real_noise_wrappers,
)

N_ENVS = 2


def scale_at(step: float) -> float:
    return float(SPEC.scale) * SPEC.schedule(step)  # type: ignore[arg-type]


def subproc_env() -> VecEnv:
    return make_vec_env(
        "CartPole-v1",
        n_envs=N_ENVS,
        seed=0,
        vec_env_cls=SubprocVecEnv,
        # fork: workers start in milliseconds instead of importing torch again (forkserver).
        vec_env_kwargs=dict(start_method="fork"),
        wrapper_class=ScheduledWrapper,
    )


def model_on(env: Any, **kwargs: Any) -> PPO:
    return PPO(
        ScheduledPolicy,
        env,
        n_steps=32,
        batch_size=64,
        n_epochs=1,
        policy_kwargs=dict(net_arch=[16]),
        device="cpu",
        seed=0,
        **kwargs,
    )


def worker_and_policy(probe: Probe) -> dict[str, Any]:
    """What each source holds now, read straight from it (not through the clock)."""
    env = probe.model.get_env()
    assert env is not None
    return {
        "num_timesteps": probe.model.num_timesteps,
        "worker_t": env.get_attr("noise_t"),
        "worker": [s["obs"] for s in env.env_method("noise_scales")],
        "policy": probe.model.policy.noise_scales()["weight"],
    }


def test_clock_sets_the_same_scale_in_a_subproc_worker_wrapper_as_in_the_policy() -> None:
    env = subproc_env()
    try:
        model = model_on(env)
        probe = Probe(record=worker_and_policy)
        model.learn(128, callback=[NoiseScheduleCallback(remote_every=1), probe])
        assert len(probe.records) == 2
        for seen in probe.records:
            expected = scale_at(seen["num_timesteps"])
            assert seen["worker_t"] == [seen["num_timesteps"]] * N_ENVS
            assert seen["worker"] == pytest.approx([expected] * N_ENVS, rel=1e-12)
            assert seen["policy"] == pytest.approx(expected, rel=1e-12)
    finally:
        env.close()


def test_without_the_clock_each_source_keeps_its_own_count() -> None:
    env = subproc_env()
    try:
        model = model_on(env)
        probe = Probe(record=worker_and_policy)
        model.learn(64, callback=probe)
        (seen,) = probe.records
        # Each worker counted its own sub-env's steps, the policy its forward passes:
        # neither is the model's num_timesteps.
        assert seen["worker_t"] == [seen["num_timesteps"] // N_ENVS] * N_ENVS
        assert model.policy.noise_t == 32
        assert seen["worker"][0] != pytest.approx(scale_at(seen["num_timesteps"]))
    finally:
        env.close()


def test_throttled_workers_lag_by_less_than_remote_every_and_agree_at_the_end() -> None:
    env = subproc_env()
    try:
        model = model_on(env)
        probe = Probe(record=worker_and_policy)
        model.learn(256, callback=[NoiseScheduleCallback(remote_every=20), probe])
        for seen in probe.records:
            now = seen["num_timesteps"]
            lag = now - seen["worker_t"][0]
            assert 0 <= lag < 20 * N_ENVS
            assert seen["worker"][0] == pytest.approx(scale_at(now - lag), rel=1e-12)
            assert seen["policy"] == pytest.approx(scale_at(now), rel=1e-12)  # local: exact
        final = worker_and_policy(probe)
        assert final["worker_t"] == [256] * N_ENVS
        assert final["worker"][0] == pytest.approx(final["policy"], rel=1e-12)
    finally:
        env.close()


def test_logs_each_source_scale_at_the_step_it_is_logged() -> None:
    env = make_vec_env("CartPole-v1", n_envs=N_ENVS, seed=0, wrapper_class=ScheduledWrapper)
    model = model_on(env)
    capture = Capture()
    model.set_logger(Logger(folder=None, output_formats=[capture]))
    gradient = GradientNoiseCallback(eta=0.3, seed=0)
    model.learn(192, callback=[NoiseScheduleCallback(), gradient])
    assert capture.steps == [64, 128, 192]
    for step, values in zip(capture.steps, capture.dumps, strict=True):
        assert values["noise/env/obs"] == pytest.approx(scale_at(step), rel=1e-12)
        assert values["noise/policy/weight"] == pytest.approx(scale_at(step), rel=1e-12)
        # The gradient noise follows the same clock: sigma^2 = eta / (1 + num_timesteps)^gamma.
        assert values["noise/grad_std"] == pytest.approx((0.3 / (1 + step) ** 0.55) ** 0.5)


# -- finding the sources ---------------------------------------------------------------


class VecScaled(VecEnvWrapper):
    """A VecEnv-level noise source (as a vectorised observation-noise wrapper would be)."""

    def __init__(self, venv: VecEnv):
        super().__init__(venv)
        self.noise_t = 0

    def reset(self) -> Any:
        return self.venv.reset()

    def step_wait(self) -> Any:
        return self.venv.step_wait()

    def set_noise_step(self, step: int) -> None:
        self.noise_t = step

    def noise_scales(self) -> dict[str, float]:
        return {"obs": scale_at(self.noise_t)}


def test_a_vec_env_wrapper_source_is_found_once_under_vec_normalize() -> None:
    inner = VecScaled(DummyVecEnv([lambda: gym.make("CartPole-v1")]))
    outer = VecNormalize(inner)
    # VecEnvWrapper.__getattr__ forwards to the inner wrapper: only the class tells.
    assert hasattr(outer, "set_noise_step") and not is_noise_source(outer)
    model = PPO("MlpPolicy", outer, n_steps=32, batch_size=32, device="cpu")
    assert find_noise_sources(model).local == [("vec_env", inner)]


def test_every_wrapper_of_a_dummy_vec_env_chain_is_found() -> None:
    def make() -> gym.Env:
        return ScheduledWrapper(ScheduledWrapper(gym.make("CartPole-v1")))

    venv = DummyVecEnv([make, make])
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=32, device="cpu")
    found = find_noise_sources(model).local
    assert [prefix for prefix, _ in found] == ["env"] * 4
    assert len({id(source) for _, source in found}) == 4


class ScaledActionNoise:
    """An SB3-style action noise that is also a noise source."""

    def __init__(self) -> None:
        self.noise_t = 0

    def __call__(self) -> Any:
        return np.zeros(1)

    def reset(self) -> None:
        pass

    def set_noise_step(self, step: int) -> None:
        self.noise_t = step

    def noise_scales(self) -> dict[str, float]:
        return {"action": scale_at(self.noise_t)}


class ScaledModule(torch.nn.Module):
    """A noise source living inside the policy (as a noisy layer would)."""

    def set_noise_step(self, step: int) -> None:
        self.noise_t = step

    def noise_scales(self) -> dict[str, float]:
        return {"weight": 0.1}


def test_policy_modules_and_model_attributes_are_found() -> None:
    action_noise = ScaledActionNoise()
    model = TD3("MlpPolicy", "Pendulum-v1", action_noise=action_noise, device="cpu")
    # A source module inside the policy, found by the protocol alone.
    model.policy.actor.add_module("scaled", ScaledModule())
    found = dict(find_noise_sources(model).local)
    assert found["action_noise"] is action_noise
    assert isinstance(found["policy/actor.scaled"], ScaledModule)
    assert len(found) == 2  # model.actor is the policy's actor: not found twice


def test_extra_sources_are_driven_and_bad_ones_rejected() -> None:
    extra = ScaledActionNoise()
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=32, batch_size=32, device="cpu", seed=0)
    clock = NoiseScheduleCallback(extra_sources=[extra])
    model.learn(64, callback=clock)
    assert extra.noise_t == 64
    assert clock.current_scales() == {"noise/extra0/action": pytest.approx(scale_at(64))}
    with pytest.raises(ValueError, match=r"extra_sources\[0\] must be a VecEnv"):
        model.learn(32, callback=NoiseScheduleCallback(extra_sources=[object()]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(every=0), "every must be >= 1"),
        (dict(remote_every=1.5), "remote_every must be an integer"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NoiseScheduleCallback(**kwargs)


# -- with rlnoise's own wrappers ---------------------------------------------------------


def test_clock_drives_rlnoise_wrappers_stacked_in_subproc_workers() -> None:
    env = make_vec_env(
        "CartPole-v1",
        n_envs=N_ENVS,
        seed=0,
        vec_env_cls=SubprocVecEnv,
        vec_env_kwargs=dict(start_method="fork"),
        wrapper_class=real_noise_wrappers,
    )
    try:
        model = model_on(env)
        capture = Capture()
        model.set_logger(Logger(folder=None, output_formats=[capture]))

        def read(probe: Probe) -> Any:
            return probe.model.num_timesteps, env.env_method("noise_scales"), model.policy.noise_t

        probe = Probe(record=read)
        model.learn(128, callback=[NoiseScheduleCallback(remote_every=1), probe])
        # Two rollouts of 32 steps x 2 envs, each read and logged (the loops below check them).
        assert [step for step, _, _ in probe.records] == [64, 128]
        assert capture.steps == [64, 128]
        for step, per_env, policy_t in probe.records:
            for scales in per_env:  # both wrappers of every worker, one call each
                assert scales["observation"] == pytest.approx(scale_at(step), rel=1e-12)
                assert scales["random_action"] == pytest.approx(0.5 * SPEC.schedule(step))
            assert policy_t == step
        for step, values in zip(capture.steps, capture.dumps, strict=True):
            assert values["noise/env/observation"] == pytest.approx(scale_at(step), rel=1e-12)
            assert values["noise/policy/weight"] == pytest.approx(scale_at(step), rel=1e-12)
    finally:
        env.close()


def test_clock_drives_vec_observation_noise_in_the_vec_env_chain() -> None:
    from rlnoise.wrappers import VecObservationNoise

    venv = VecNormalize(
        VecObservationNoise(make_vec_env("CartPole-v1", n_envs=N_ENVS, seed=0), SPEC)
    )
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, device="cpu", seed=0)
    clock = NoiseScheduleCallback()
    model.learn(128, callback=clock)
    assert clock.current_scales() == {"noise/vec_env/observation": pytest.approx(scale_at(128))}
