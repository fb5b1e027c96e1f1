"""The policy adapter: the batched forward is predict's, bit for bit."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from rlnoise.evaluation import evaluate_robustness
from rlnoise.evaluation.policy import PolicyAdapter
from rlnoise.evaluation.scores import categorical_mode

from .helpers import predict_episodes

MODELS = [
    (PPO, "CartPole-v1", {}),
    (A2C, "CartPole-v1", {}),
    (DQN, "CartPole-v1", {}),
    (PPO, "Pendulum-v1", {}),
    (PPO, "Pendulum-v1", {"use_sde": True}),
    (SAC, "Pendulum-v1", {}),
    (TD3, "Pendulum-v1", {}),
    (PPO, "MountainCarContinuous-v0", {}),
]


@pytest.mark.parametrize(
    ("cls", "env_id", "kwargs"), MODELS, ids=lambda v: getattr(v, "__name__", str(v))
)
def test_act_equals_policy_predict(cls: type, env_id: str, kwargs: dict) -> None:
    model = cls("MlpPolicy", env_id, seed=0, device="cpu", **kwargs)
    adapter = PolicyAdapter(model.policy)
    model.observation_space.seed(0)
    obs = np.stack([model.observation_space.sample() for _ in range(33)])
    expected, _ = model.policy.predict(obs, deterministic=True)
    actions = adapter.postprocess(adapter.act(adapter.to_tensor(obs)))
    assert actions.dtype == expected.dtype
    assert np.array_equal(actions, expected)


@pytest.mark.parametrize(
    ("cls", "env_id"),
    [(PPO, "CartPole-v1"), (DQN, "CartPole-v1"), (SAC, "Pendulum-v1"), (TD3, "Pendulum-v1")],
)
def test_per_row_weights_at_their_base_values_act_like_the_policy(cls: type, env_id: str) -> None:
    model = cls("MlpPolicy", env_id, seed=0, device="cpu")
    adapter = PolicyAdapter(model.policy)
    model.observation_space.seed(0)
    obs = adapter.to_tensor(np.stack([model.observation_space.sample() for _ in range(16)]))
    weights = {n: p.expand(16, *p.shape) for n, p in adapter.action_parameters().items()}
    expected = adapter.act(obs)
    torch.testing.assert_close(adapter.act_with_weights(weights, obs), expected)


def test_weight_selection_follows_the_action_path_and_globs() -> None:
    adapter = PolicyAdapter(PPO("MlpPolicy", "CartPole-v1", seed=0, device="cpu").policy)
    names = set(adapter.action_parameters())
    assert "action_net.weight" in names and not any("value" in n for n in names)
    only_head = adapter.action_parameters(("action_net.*",))
    assert set(only_head) == {"action_net.weight", "action_net.bias"}
    with pytest.raises(ValueError, match="matches no action-path parameter"):
        adapter.action_parameters(("value_net.*",))


def _normalized_model() -> tuple[PPO, VecNormalize]:
    venv = VecNormalize(DummyVecEnv([lambda: gym.make("CartPole-v1")]), norm_reward=False)
    venv.seed(0)
    venv.action_space.seed(0)
    venv.reset()
    for _ in range(300):  # running statistics from random play
        venv.step(np.array([venv.action_space.sample()]))
    venv.training = False
    return PPO("MlpPolicy", venv, seed=9, device="cpu"), venv


def test_vecnormalize_numpy_and_torch_twins_match_sb3() -> None:
    model, venv = _normalized_model()
    adapter = PolicyAdapter(model.policy, venv)
    obs = np.random.default_rng(0).normal(0, 2, (50, 4)).astype(np.float32)
    expected = venv.normalize_obs(obs)
    assert np.array_equal(adapter.normalize(obs), expected)
    assert np.array_equal(adapter.normalize_torch(torch.as_tensor(obs)).numpy(), expected)


def test_clean_with_vecnormalize_equals_predict_on_normalized_obs() -> None:
    model, venv = _normalized_model()
    report = evaluate_robustness(
        model,
        "CartPole-v1",
        {
            "gaussian": {"levels": [0.0, 0.5], "space": "normalized"},
            "fgsm": {"levels": [0.1], "space": "normalized"},
        },
        n_episodes=4,
        seed=0,
        device="cpu",
        progress=False,
    )
    assert report.runs[0]["vecnormalize"] is not None
    returns, _ = predict_episodes(model, "CartPole-v1", [0, 1, 2, 3], normalize=venv.normalize_obs)
    clean, zero, noisy, _ = report.returns[0]
    assert clean.tolist() == returns
    assert np.array_equal(clean, zero)
    assert not np.array_equal(clean, noisy)


@pytest.mark.parametrize("n_actions", [2, 3, 6])
def test_discrete_mode_equals_categorical_even_at_near_ties(n_actions: int) -> None:
    # SB3's deterministic action is argmax(Categorical(logits).probs); rounding in the
    # softmax can tie two close logits, and then the first index wins.
    generator = torch.Generator().manual_seed(n_actions)
    logits = torch.randn(30_000, n_actions, generator=generator) * 30
    gaps = torch.logspace(-9, 1, 30_000) * torch.randn(30_000, generator=generator).sign()
    logits[:, 1] = logits[:, 0] + gaps * (1 + logits[:, 0].abs())
    logits[:100, 1] = logits[:100, 0]  # exact ties
    expected = torch.distributions.Categorical(logits=logits).probs.argmax(dim=1)
    assert torch.equal(categorical_mode(logits), expected)
