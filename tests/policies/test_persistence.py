"""model.save() / Algorithm.load() and policy.save() / Policy.load() rebuild the same policy."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import A2C, DDPG, DQN, PPO, SAC, TD3
from stable_baselines3.common.env_util import make_vec_env

from rlnoise.nn import noise_disabled
from rlnoise.policies import (
    NoisyActorCriticCnnPolicy,
    NoisyActorCriticPolicy,
    NoisyDQNCnnPolicy,
    NoisyDQNMultiInputPolicy,
    NoisyDQNPolicy,
    NoisyMultiInputActorCriticPolicy,
    NoisySACCnnPolicy,
    NoisySACMultiInputPolicy,
    NoisySACPolicy,
    NoisyTD3CnnPolicy,
    NoisyTD3MultiInputPolicy,
    NoisyTD3Policy,
)

SMALL = {"net_arch": [16, 16]}
OFF = {"learning_starts": 16, "batch_size": 16, "train_freq": 8}

MODELS: list[tuple[str, Any, Any, str, dict[str, Any], dict[str, Any]]] = [
    (
        "ppo",
        PPO,
        NoisyActorCriticPolicy,
        "CartPole-v1",
        {"n_steps": 32, "batch_size": 32},
        {"noisy_net": True, "weight_noise": "dropout:0.1,where=action_net.mu"},
    ),
    (
        "a2c",
        A2C,
        NoisyActorCriticPolicy,
        "Pendulum-v1",
        {"n_steps": 8},
        {"activation_noise": "uniform:0.1", "layer_norm": True},
    ),
    (
        "dqn",
        DQN,
        NoisyDQNPolicy,
        "CartPole-v1",
        OFF,
        {"noisy_net": {"factorised": False, "sigma0": 0.02}, "activation_noise": "gaussian:0.1"},
    ),
    (
        "dqn-param",
        DQN,
        NoisyDQNPolicy,
        "CartPole-v1",
        OFF,
        {"param_noise": "gaussian:0.05"},
    ),
    ("sac", SAC, NoisySACPolicy, "Pendulum-v1", OFF, {"weight_noise": "gaussian:0.01"}),
    ("td3", TD3, NoisyTD3Policy, "Pendulum-v1", OFF, {"noisy_net": True}),
    (
        "ddpg",
        DDPG,
        NoisyTD3Policy,
        "Pendulum-v1",
        OFF,
        {"param_noise": "gaussian:0.2,adaptive=0.3"},
    ),
]


def noise_parameters(policy: Any) -> dict[str, Any]:
    keys = (
        "weight_noise",
        "activation_noise",
        "noisy_net",
        "param_noise",
        "layer_norm",
        "noise_seed",
    )
    data = policy._get_constructor_parameters()
    return {key: data[key] for key in keys}


def trained(
    algorithm: Any, policy: Any, env: str, algo_kwargs: dict[str, Any], noise: dict[str, Any]
) -> tuple[Any, np.ndarray]:
    """A model of MODELS after 48 steps, and 5 seeded observations from its space."""
    model = algorithm(
        policy, env, policy_kwargs={**SMALL, **noise}, seed=1, device="cpu", **algo_kwargs
    )
    model.learn(48)
    model.observation_space.seed(2)  # SB3's seed does not reach the observation space
    return model, np.stack([model.observation_space.sample() for _ in range(5)])


@pytest.mark.parametrize(
    ("algorithm", "policy", "env", "algo_kwargs", "noise"),
    [m[1:] for m in MODELS],
    ids=[m[0] for m in MODELS],
)
def test_model_save_load_round_trip(
    tmp_path: Path,
    algorithm: Any,
    policy: Any,
    env: str,
    algo_kwargs: dict[str, Any],
    noise: dict[str, Any],
) -> None:
    model, obs = trained(algorithm, policy, env, algo_kwargs, noise)
    with noise_disabled(model):
        clean_before, _ = model.predict(obs, deterministic=True)
    model.save(tmp_path / "model.zip")
    loaded = algorithm.load(tmp_path / "model.zip", env=model.get_env(), device="cpu")
    assert type(loaded.policy) is policy
    assert noise_parameters(loaded.policy) == noise_parameters(model.policy)
    assert sorted(loaded.policy.noise_scales()) == sorted(model.policy.noise_scales())
    with noise_disabled(loaded):
        clean_after, _ = loaded.predict(obs, deterministic=True)
    np.testing.assert_array_equal(clean_before, clean_after)
    # eval-phase predictions (the default noise is off in eval) match too
    np.testing.assert_array_equal(
        model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0]
    )
    loaded.learn(24)  # and it trains on


def test_dqn_load_keeps_the_users_epsilon_schedule_for_param_noise(tmp_path: Path) -> None:
    model = DQN(
        NoisyDQNPolicy,
        "CartPole-v1",
        exploration_final_eps=0.2,
        policy_kwargs={"noisy_net": False, "param_noise": "gaussian:0.1"},
        device="cpu",
    )
    assert model.exploration_final_eps == 0.0
    model.save(tmp_path / "dqn.zip")
    loaded = DQN.load(tmp_path / "dqn.zip", device="cpu")
    assert loaded.policy._epsilon_schedule == (1.0, 0.2, 0.1)
    assert loaded.exploration_final_eps == 0.0


def image_space() -> spaces.Box:
    return spaces.Box(0, 255, (1, 36, 36), np.uint8)


def dict_space() -> spaces.Dict:
    return spaces.Dict({"vec": spaces.Box(-1, 1, (3,)), "img": image_space()})


BOX = spaces.Box(-1, 1, (2,))
POLICIES: list[tuple[Any, Any, Any, dict[str, Any]]] = [
    (NoisyActorCriticPolicy, spaces.Box(-1, 1, (4,)), spaces.MultiDiscrete([3, 2]), {}),
    (NoisyActorCriticCnnPolicy, image_space(), spaces.Discrete(3), {"noisy_net": True}),
    (NoisyMultiInputActorCriticPolicy, dict_space(), BOX, {}),
    (NoisyDQNPolicy, spaces.Box(-1, 1, (4,)), spaces.Discrete(2), {"param_noise": "gaussian:0.1"}),
    (NoisyDQNCnnPolicy, image_space(), spaces.Discrete(2), {}),
    (NoisyDQNMultiInputPolicy, dict_space(), spaces.Discrete(2), {}),
    (NoisySACPolicy, spaces.Box(-1, 1, (4,)), BOX, {"noisy_net": True}),
    (NoisySACCnnPolicy, image_space(), BOX, {}),
    (NoisySACMultiInputPolicy, dict_space(), BOX, {}),
    (NoisyTD3Policy, spaces.Box(-1, 1, (4,)), BOX, {"activation_noise": "gaussian:0.1"}),
    (NoisyTD3CnnPolicy, image_space(), BOX, {}),
    (NoisyTD3MultiInputPolicy, dict_space(), BOX, {}),
]


@pytest.mark.parametrize(
    ("cls", "obs_space", "action_space", "noise"), POLICIES, ids=[p[0].__name__ for p in POLICIES]
)
def test_policy_save_load_round_trip_for_every_class(
    tmp_path: Path, cls: Any, obs_space: Any, action_space: Any, noise: dict[str, Any]
) -> None:
    kwargs: dict[str, Any] = {"net_arch": [8]}
    if obs_space.__class__ is not spaces.Box or len(obs_space.shape) > 1:
        kwargs["features_extractor_kwargs"] = (
            {"features_dim": 8} if "Cnn" in cls.__name__ else {"cnn_output_dim": 8}
        )
    policy = cls(obs_space, action_space, lambda _: 1e-3, noise_seed=3, **kwargs, **noise)
    policy.save(str(tmp_path / "policy.pt"))
    loaded = cls.load(str(tmp_path / "policy.pt"), device="cpu")
    assert noise_parameters(loaded) == noise_parameters(policy)
    state, reloaded = policy.state_dict(), loaded.state_dict()
    assert state.keys() == reloaded.keys()
    assert all(torch.equal(state[k], reloaded[k]) for k in state)
    obs_space.seed(2)
    obs = obs_space.sample()
    np.testing.assert_array_equal(
        policy.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0]
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_trained_model_loads_on_cpu(tmp_path: Path) -> None:
    model = DQN(
        NoisyDQNPolicy, "CartPole-v1", learning_starts=16, policy_kwargs=SMALL, device="cuda"
    )
    model.learn(48)
    obs = np.zeros((2, 4), np.float32)
    expected, _ = model.predict(obs, deterministic=True)
    model.save(tmp_path / "gpu.zip")
    loaded = DQN.load(tmp_path / "gpu.zip", device="cpu")
    assert loaded.policy.device.type == "cpu"
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], expected)
    loaded.set_env(make_vec_env("CartPole-v1", n_envs=1, seed=0))
    loaded.learn(16)


@pytest.mark.parametrize(
    ("algorithm", "policy", "env", "algo_kwargs", "noise"),
    [m[1:] for m in MODELS],
    ids=[m[0] for m in MODELS],
)
def test_policy_pickles_compactly_and_deepcopies_with_its_own_machinery(
    algorithm: Any, policy: Any, env: str, algo_kwargs: dict[str, Any], noise: dict[str, Any]
) -> None:
    model, obs = trained(algorithm, policy, env, algo_kwargs, noise)
    with noise_disabled(model):
        clean, _ = model.predict(obs, deterministic=True)
    # pickle (torch.save(model.policy), multiprocessing): no closures, no weakref, and the
    # pre-drawn noise blocks are not stored once per row.
    data = pickle.dumps(model.policy)
    plain = algorithm("MlpPolicy", env, policy_kwargs=dict(SMALL), device="cpu", **algo_kwargs)
    assert len(data) < 5 * len(pickle.dumps(plain.policy))
    restored = pickle.loads(data)
    with noise_disabled(restored):
        np.testing.assert_array_equal(restored.predict(obs, deterministic=True)[0], clean)
    # A deep copy of the model: its policy serves the copy, and the copy's optimizer
    # steps are the copy's noise updates (not the original's, not lost).
    copied = copy.deepcopy(model)
    assert copied.policy.bound_algorithm is copied
    updates: list[str] = []
    copied.policy.noise_control.add_listener(updates.append)
    model.policy.noise_control.add_listener(lambda event: pytest.fail(f"original got {event}"))
    copied.learn(48, reset_num_timesteps=False)
    assert "update" in updates
    with noise_disabled(copied):
        assert copied.predict(obs, deterministic=True)[0].shape == clean.shape
