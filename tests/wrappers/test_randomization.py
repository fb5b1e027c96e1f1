"""DomainRandomization: seeded draws, the nominal env when off, vector envs, the curriculum."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env

from rlnoise.callbacks import DynamicsLogCallback, NoiseScheduleCallback
from rlnoise.core.random import derive_seed, make_rng
from rlnoise.wrappers import DomainRandomization, DynamicsSetting

PARAMETERS = {
    "length": "uniform:0.5,mode=multiplicative",
    "masscart": "gaussian:0.2,clip=[0.5,1.5]",
}


def _make(parameters: dict = PARAMETERS) -> DomainRandomization:
    return DomainRandomization(gym.make("CartPole-v1"), parameters)


def test_draws_follow_the_specs_from_the_owned_generator() -> None:
    _, info = _make().reset(seed=7)
    rng = make_rng(derive_seed(7, "dynamics"))
    # Sorted names: length (uniform unit draw), then masscart (normal unit draw).
    length = 0.5 * (1 + 0.5 * (2 * rng.random() - 1))
    masscart = min(max(1.0 + 0.2 * rng.standard_normal(), 0.5), 1.5)
    assert info["dynamics"] == pytest.approx({"length": length, "masscart": masscart})


def test_same_seed_same_parameters_and_the_env_is_set() -> None:
    env, other = _make(), _make()
    draws = [env.reset(seed=s)[1]["dynamics"] for s in (0, 1, 0)]
    assert draws[0] == draws[2] != draws[1]
    assert other.reset(seed=1)[1]["dynamics"] == draws[1]
    inner = env.unwrapped
    assert inner.length == draws[2]["length"]
    # The evaluation's dynamics path refreshes CartPole's derived quantities the same way.
    reference = gym.make("CartPole-v1")
    DynamicsSetting(attributes=draws[2]).apply(reference)
    assert inner.polemass_length == reference.unwrapped.polemass_length
    assert inner.total_mass == reference.unwrapped.total_mass


def test_unseeded_resets_continue_the_stream() -> None:
    env = _make()
    env.reset(seed=3)
    values = [env.reset()[1]["dynamics"]["length"] for _ in range(3)]
    assert len(set(values)) == 3


def test_trajectory_unchanged_when_off() -> None:
    env, raw = _make(), gym.make("CartPole-v1")
    env.noise_enabled = False
    obs, info = env.reset(seed=0)
    assert info["dynamics"] == {"length": 0.5, "masscart": 1.0}
    assert np.array_equal(obs, raw.reset(seed=0)[0])
    for action in [0, 1] * 10:
        assert np.array_equal(env.step(action)[0], raw.step(action)[0])


def test_last_step_reports_the_episode_parameters() -> None:
    env = _make()
    _, info = env.reset(seed=0)
    while True:
        _, _, terminated, truncated, step_info = env.step(1)
        if terminated or truncated:
            break
        assert "dynamics" not in step_info
    assert step_info["dynamics"] == info["dynamics"]


def test_checkers_pass() -> None:
    check_env(_make(), skip_render_check=True)
    sb3_check_env(_make())


def test_curriculum_widens_on_the_shared_clock() -> None:
    spec = {
        "kind": "uniform",
        "scale": 0.5,
        "mode": "multiplicative",
        "schedule": {"type": "linear", "start": 0.0, "end": 1.0, "steps": 100},
    }
    env = _make({"length": spec})
    assert env.reset(seed=0)[1]["dynamics"]["length"] == 0.5  # width 0 at step 0
    env.set_noise_step(50)
    assert env.noise_scales() == {"dynamics/length": 0.25}
    value = env.reset(seed=0)[1]["dynamics"]["length"]
    full = _make({"length": "uniform:0.5,mode=multiplicative"}).reset(seed=0)[1]["dynamics"]
    # The same unit draw, at half the width.
    assert value - 0.5 == pytest.approx((full["length"] - 0.5) / 2)


def test_gymnasium_vector_rows_match_single_envs() -> None:
    envs = gym.make_vec(
        "CartPole-v1",
        num_envs=3,
        vectorization_mode="sync",
        wrappers=[lambda e: DomainRandomization(e, PARAMETERS)],
    )
    _, infos = envs.reset(seed=10)
    for i in range(3):
        single = _make().reset(seed=10 + i)[1]["dynamics"]
        assert infos["dynamics"]["length"][i] == single["length"]


def test_sb3_training_logs_values_and_follows_the_clock() -> None:
    spec = {
        **dict(kind="uniform", scale=0.5, mode="multiplicative"),
        "schedule": {"type": "linear", "start": 0.0, "end": 1.0, "steps": 128},
    }
    venv = make_vec_env(
        "CartPole-v1",
        n_envs=2,
        seed=0,
        wrapper_class=DomainRandomization,
        wrapper_kwargs={"parameters": {"length": spec}},
    )
    single = _make({"length": spec})
    assert venv.env_method("reset", seed=0)[0][1]["dynamics"] == single.reset(seed=0)[1]["dynamics"]
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, device="cpu", seed=0)
    logged = DynamicsLogCallback()
    model.learn(256, callback=[NoiseScheduleCallback(), logged])
    assert venv.env_method("noise_scales") == [{"dynamics/length": 0.5}] * 2
    assert 0.25 <= logged.last_values["length"] <= 0.75


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({}, "parameters must map"),
        ({"lenght": "uniform:0.1"}, "no numeric attribute 'lenght'"),
        ({"length": "ou:0.1"}, "kind must be one of"),
        ({"length": "uniform:0.1,clip=space"}, "clip must be \\[low, high\\]"),
        ({"length": "uniform:0.1,envelope=step(at=3)"}, "envelope has no meaning"),
    ],
)
def test_bad_parameters(parameters: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _make(parameters)


def test_yaml_config_builds_the_wrapped_training_env() -> None:
    from pathlib import Path

    from rlnoise.experiments.build import make_training_env
    from rlnoise.experiments.config import load_config
    from rlnoise.wrappers import ObservationDelay, ObservationNoise, RewardNoise

    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "configs" / "ppo_cartpole_domain_randomisation.yaml")
    venv = make_training_env(config, seed=0)
    venv.reset()
    chain = venv.envs[0]
    kinds = []
    while hasattr(chain, "env"):
        kinds.append(type(chain))
        chain = chain.env
    assert kinds.index(ObservationNoise) < kinds.index(RewardNoise) < kinds.index(ObservationDelay)
    assert kinds.index(ObservationDelay) < kinds.index(DomainRandomization)
    values = venv.env_method("noise_scales")[0]
    assert values["dynamics/masscart"] == 0.5 and values["dynamics/length"] == 0.0
