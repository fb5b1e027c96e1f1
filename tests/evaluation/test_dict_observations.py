"""Dict observations (SB3 ``MultiInputPolicy``) in the batched runner, on real Dict envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from rlnoise.evaluation import Condition, ModelRun, evaluate_robustness
from rlnoise.evaluation.cells import Cell
from rlnoise.evaluation.models import vec_normalize_digest
from rlnoise.evaluation.observations import DictLayout
from rlnoise.evaluation.perturbations import ObservationAttackPerturbation
from rlnoise.evaluation.policy import PolicyAdapter

from .dict_env import (
    make_bucket_cartpole,
    make_dict_cartpole,
    make_dict_pendulum,
)
from .helpers import predict_episodes

GRID = {
    "gaussian": [0.0, 0.1],
    "ou": {"levels": [0.3], "theta": 0.5},
    "random_action": [0.2],
    "sticky_action": {"levels": [0.3], "duration": [1, 3]},
    "weight_noise": {"gaussian": [0.05]},
    "fgsm": [0.05],
    "pgd": {"levels": [0.05], "steps": 3, "random_start": True},
    "dynamics": {"attributes": {"length": [1.0]}},
}


def run(model, conditions, env=make_dict_cartpole, n_episodes=6, seed=3, **kwargs):
    kwargs.setdefault("progress", False)
    kwargs.setdefault("device", "cpu")
    return evaluate_robustness(model, env, conditions, n_episodes=n_episodes, seed=seed, **kwargs)


@pytest.fixture(scope="module")
def dict_ppo() -> PPO:
    """A PPO MultiInputPolicy trained a little on the Dict CartPole: varied episode lengths."""
    model = PPO("MultiInputPolicy", make_dict_cartpole(), n_steps=128, seed=0, device="cpu")
    model.learn(256)
    return model


@pytest.mark.parametrize("batch_size", [1, 4, 256])
def test_clean_dict_episodes_equal_predict_one_episode_at_a_time(
    dict_ppo: PPO, batch_size: int
) -> None:
    report = run(dict_ppo, GRID, batch_size=batch_size)
    returns, lengths = predict_episodes(dict_ppo, make_dict_cartpole, [3 + k for k in range(6)])
    assert report.returns[0, 0].tolist() == returns
    assert report.lengths[0, 0].tolist() == lengths
    assert np.array_equal(report.returns[0, 1], report.returns[0, 0])  # gaussian:0.0


def test_an_integer_key_reaches_the_policy_as_predict_gives_it() -> None:
    model = PPO("MultiInputPolicy", make_bucket_cartpole(), seed=1, device="cpu")
    report = run(model, ["clean"], env=make_bucket_cartpole, batch_size=4)
    returns, _ = predict_episodes(model, make_bucket_cartpole, [3 + k for k in range(6)])
    assert report.returns[0, 0].tolist() == returns


def test_dict_perturbations_change_returns_reproducibly_whatever_the_batch(dict_ppo: PPO) -> None:
    first = run(dict_ppo, GRID, batch_size=256)
    again = run(dict_ppo, GRID, batch_size=256)
    small = run(dict_ppo, GRID, batch_size=3)
    np.testing.assert_array_equal(first.returns, again.returns)
    np.testing.assert_array_equal(first.returns, small.returns)  # discrete actions: exact
    names = [c.name for c in first.conditions]
    clean = first.returns[0, 0]
    for name, returns in zip(names[2:], first.returns[0, 2:], strict=True):
        assert not np.array_equal(returns, clean), name
    other_seed = run(dict_ppo, {"gaussian": [0.1]}, seed=4)
    assert not np.array_equal(other_seed.returns[0, 1], first.returns[0, 2])


def test_continuous_dict_actions_with_action_noise_and_attacks() -> None:
    model = SAC("MultiInputPolicy", make_dict_pendulum(), buffer_size=100, seed=0, device="cpu")
    grid = {"action_noise": {"gaussian": [0.0, 0.5]}, "fgsm": [0.0, 0.3], "gaussian": [0.2]}
    report = run(model, grid, env=make_dict_pendulum, n_episodes=2, max_steps=50)
    returns, _ = predict_episodes(
        model, lambda: gym.wrappers.TimeLimit(make_dict_pendulum(), 50), [3, 4]
    )
    by_name = dict(zip([c.name for c in report.conditions], report.returns[0], strict=True))
    clean = by_name["clean"]
    # Batched float32 forward passes: predict's values up to rounding.
    np.testing.assert_allclose(clean, returns, rtol=1e-5)
    assert np.array_equal(clean, by_name["action:gaussian:0"])
    assert np.array_equal(clean, by_name["fgsm:0"])
    for name in ("action:gaussian:0.5", "fgsm:0.3", "obs:gaussian:0.2"):
        assert not np.array_equal(clean, by_name[name]), name


def _dict_vecnormalize(keys: list[str] | None) -> VecNormalize:
    venv = VecNormalize(DummyVecEnv([make_dict_cartpole]), norm_obs_keys=keys, norm_reward=False)
    rng = np.random.default_rng(0)
    for rms in venv.obs_rms.values():
        rms.mean = rng.normal(0, 0.5, rms.mean.shape)
        rms.var = rng.uniform(0.05, 2.0, rms.var.shape)
    venv.training = False
    return venv


@pytest.mark.parametrize("keys", [None, ["velocity"]])
def test_dict_vecnormalize_follows_norm_obs_keys(dict_ppo: PPO, keys: list[str] | None) -> None:
    venv = _dict_vecnormalize(keys)
    adapter = PolicyAdapter(dict_ppo.policy, venv)
    layout = adapter.layout
    assert layout is not None
    rng = np.random.default_rng(1)
    observations = [
        {
            "position": rng.normal(0, 2, 2).astype(np.float32),
            "velocity": rng.normal(0, 2, 2).astype(np.float32),
        }
        for _ in range(20)
    ]
    rows = layout.flatten(observations)
    expected = layout.flatten([venv.normalize_obs(o) for o in observations])
    assert np.array_equal(adapter.normalize(rows), expected)
    assert np.array_equal(adapter.normalize_torch(torch.as_tensor(rows)).numpy(), expected)
    grid = {"gaussian": {"levels": [0.0, 0.5], "space": "normalized"}, "fgsm": {"levels": [0.1]}}
    report = run(ModelRun("m", "g", dict_ppo, vec_normalize=venv), grid)
    assert report.runs[0]["vecnormalize"] == vec_normalize_digest(venv) is not None
    returns, _ = predict_episodes(
        dict_ppo, make_dict_cartpole, [3 + k for k in range(6)], normalize=venv.normalize_obs
    )
    clean, zero, noisy, _ = report.returns[0]
    assert clean.tolist() == returns
    assert np.array_equal(clean, zero) and not np.array_equal(clean, noisy)


def test_dict_vecnormalize_saved_beside_the_zip_is_used(dict_ppo: PPO, tmp_path) -> None:
    venv = _dict_vecnormalize(["position"])
    dict_ppo.save(tmp_path / "model.zip")
    venv.save(tmp_path / "vecnormalize.pkl")
    report = run(tmp_path / "model.zip", ["clean"])
    returns, _ = predict_episodes(
        dict_ppo, make_dict_cartpole, [3 + k for k in range(6)], normalize=venv.normalize_obs
    )
    assert report.returns[0, 0].tolist() == returns
    assert vec_normalize_digest(venv) != vec_normalize_digest(_dict_vecnormalize(["velocity"]))


def test_box_statistics_for_a_dict_policy_fail_before_any_episode(dict_ppo: PPO) -> None:
    box_stats = VecNormalize(DummyVecEnv([lambda: gym.make("CartPole-v1")]))
    with pytest.raises(ValueError, match="VecNormalize statistics are for Box observations"):
        run(ModelRun("m", "g", dict_ppo, vec_normalize=box_stats), ["clean"])


def test_attacks_perturb_float_keys_in_their_ball_and_leave_integer_keys() -> None:
    model = PPO("MultiInputPolicy", make_bucket_cartpole(), seed=1, device="cpu")
    adapter = PolicyAdapter(model.policy)
    layout = adapter.layout
    assert layout is not None and layout.integer.tolist() == [True, False, False, False, False]
    attack = ObservationAttackPerturbation(method="pgd", eps=0.2, steps=5, random_start=True)
    cell = Cell(0, 0, Condition("pgd", (attack,)), adapter, 8, 0, n_lanes=8)
    rng = np.random.default_rng(0)
    rows = np.concatenate(
        [rng.integers(0, 256, (8, 1)), rng.normal(0, 0.3, (8, 4))], axis=1
    ).astype(np.float32)
    obs = torch.as_tensor(rows)
    attacked = cell.pipeline.attack_rows(obs, np.arange(8))
    assert torch.equal(attacked[:, 0], obs[:, 0])
    assert float((attacked[:, 1:] - obs[:, 1:]).abs().max()) <= 0.2 + 1e-6
    assert not torch.equal(attacked, obs)


def test_an_attack_on_a_dict_of_integer_keys_fails_before_any_episode() -> None:
    space = spaces.Dict({"image": spaces.Box(0, 255, (4,), np.uint8)})
    env = gym.make("CartPole-v1")

    class IntegerOnly(gym.ObservationWrapper):
        def __init__(self) -> None:
            super().__init__(env)
            self.observation_space = space

        def observation(self, observation: np.ndarray) -> dict[str, np.ndarray]:
            return {"image": np.clip(observation * 50 + 128, 0, 255).astype(np.uint8)}

    model = PPO("MultiInputPolicy", IntegerOnly(), seed=0, device="cpu")
    with pytest.raises(ValueError, match=r"condition 'fgsm:0.1': attacks perturb the float Box"):
        run(model, {"fgsm": [0.1]}, env=IntegerOnly)


def test_nested_and_non_box_dict_subspaces_are_refused_clearly() -> None:
    nested = spaces.Dict({"a": spaces.Dict({"b": spaces.Box(-1, 1, (2,))})})
    with pytest.raises(ValueError, match=r"key 'a' is a nested subspace .* Dict of Box"):
        DictLayout(nested)
    with pytest.raises(ValueError, match=r"key 't' is a nested subspace"):
        DictLayout(spaces.Dict({"t": spaces.Tuple([spaces.Box(-1, 1, (2,))])}))

    class WithMode(gym.ObservationWrapper):
        def __init__(self) -> None:
            super().__init__(gym.make("CartPole-v1"))
            self.observation_space = spaces.Dict(
                {"state": self.env.observation_space, "mode": spaces.Discrete(3)}
            )

        def observation(self, observation: np.ndarray) -> dict[str, object]:
            return {"state": observation, "mode": 0}

    model = PPO("MultiInputPolicy", WithMode(), seed=0, device="cpu")
    with pytest.raises(ValueError, match=r"key 'mode' is a non-Box subspace \(Discrete\(3\)\)"):
        run(model, ["clean"], env=WithMode)


class ImageAndVector(gym.ObservationWrapper):
    """CartPole as ``{"image": HWC uint8 (36, 36, 3), "state": the 4-vector}``.

    Three channels with different content (cart position as a column in
    channel 0, pole angle as a row in channel 1): a reshape in place of the
    HWC -> CHW transpose would feed the policy other pixels.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(gym.make("CartPole-v1", **kwargs))
        self.observation_space = spaces.Dict(
            {
                "image": spaces.Box(0, 255, (36, 36, 3), np.uint8),
                "state": self.env.observation_space,
            }
        )

    def observation(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        image = np.zeros((36, 36, 3), np.uint8)
        column = int(np.clip((observation[0] + 2.4) / 4.8 * 35, 0, 35))
        image[:, column, 0] = 255
        row = int(np.clip((observation[2] + 0.21) / 0.42 * 35, 0, 35))
        image[row, :, 1] = 255
        return {"image": image, "state": observation}


def test_hwc_image_keys_are_transposed_as_sb3_trained_on_them() -> None:
    model = PPO("MultiInputPolicy", ImageAndVector(), n_steps=64, seed=1, device="cpu")
    assert model.observation_space["image"].shape == (3, 36, 36)  # VecTransposeImage
    report = run(
        model, {"gaussian": [0.0], "weight_noise": {"gaussian": [0.0]}}, env=ImageAndVector
    )
    returns, _ = predict_episodes(model, ImageAndVector, [3 + k for k in range(6)])
    assert report.returns[0, 0].tolist() == returns
    assert report.metadata["env"]["channels_first"] is True
    np.testing.assert_array_equal(report.returns[0, 1], report.returns[0, 0])
    np.testing.assert_allclose(report.returns[0, 2], report.returns[0, 0], rtol=1e-6)
