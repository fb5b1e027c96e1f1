"""Adversarial observation training: SB3 stores the attacked observations, at the fraction."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnvWrapper

from rlnoise.attacks.linf import linf_attack
from rlnoise.robust import AdversarialObservations, AdversarialTraining
from rlnoise.robust.heads import policy_head

EPS = 0.1


class Recorder(VecEnvWrapper):
    """Records the clean observations (and dones) the inner env returns."""

    def __init__(self, venv):
        super().__init__(venv)
        self.obs: list[np.ndarray] = []
        self.dones: list[np.ndarray] = []
        self.next_obs: list[np.ndarray] = []  # what a replay buffer stores as next observation

    def reset(self):
        obs = self.venv.reset()
        self.obs.append(obs.copy())
        return obs

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        self.obs.append(obs.copy())
        self.dones.append(dones.copy())
        nxt = obs.copy()
        for i in np.flatnonzero(dones):
            nxt[i] = infos[i]["terminal_observation"]
        self.next_obs.append(nxt)
        return obs, rewards, dones, infos


def ppo_rollout(fraction: float, seed: int = 0, per: str = "step"):
    """One PPO rollout (64 steps x 4 envs) behind FGSM; the buffer, the clean obs, the policy."""
    recorder = Recorder(make_vec_env("CartPole-v1", n_envs=4, seed=0))
    model = PPO("MlpPolicy", recorder, n_steps=64, batch_size=256, n_epochs=1, seed=0, device="cpu")
    initial = copy.deepcopy(model.policy)
    callback = AdversarialTraining(attack="fgsm", eps=EPS, fraction=fraction, per=per, seed=seed)
    model.learn(256, callback=callback)
    # train() flattened the buffer env-major (SB3's swap_and_flatten): back to (n_steps, n_envs, 4).
    stored = model.rollout_buffer.observations.reshape(4, 64, 4).transpose(1, 0, 2)
    clean = np.stack(recorder.obs[:64])
    return stored, clean, initial, callback, recorder


def test_ppo_stores_the_attacked_observations_at_the_fraction() -> None:
    stored, clean, initial, callback, _ = ppo_rollout(0.5)
    changed = np.abs(stored - clean).max(axis=-1) > 0
    n = changed.size
    # Binomial(256, 0.5): 4 standard deviations either side.
    assert abs(changed.mean() - 0.5) <= 4 * math.sqrt(0.25 / n)
    assert np.abs(stored - clean).max() <= EPS + 1e-6
    # The changed rows are FGSM against the policy that acted (the rollout's, before train()).
    head = policy_head(initial)
    rows = torch.as_tensor(clean[changed], dtype=torch.float32)
    expected = linf_attack(head.scores, rows, eps=EPS, steps=1, step_size=EPS, discrete=True)
    np.testing.assert_allclose(stored[changed], expected.numpy(), atol=1e-6)
    assert callback.wrapper is not None and callback.wrapper.attacked >= changed.sum()


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_fraction_zero_and_one(fraction: float) -> None:
    stored, clean, *_ = ppo_rollout(fraction)
    changed = np.abs(stored - clean).max(axis=-1) > 0
    assert changed.mean() == fraction


def test_per_episode_attacks_whole_episodes() -> None:
    stored, clean, _, _, recorder = ppo_rollout(0.5, per="episode")
    changed = np.abs(stored - clean).max(axis=-1) > 0
    dones = np.stack(recorder.dones[:63])  # done after step t: obs t+1 starts a new episode
    same_episode = ~dones
    assert (changed[1:][same_episode] == changed[:-1][same_episode]).all()
    assert 0 < changed.mean() < 1


def test_seeded() -> None:
    a, *_ = ppo_rollout(0.5, seed=1)
    b, *_ = ppo_rollout(0.5, seed=1)
    c, *_ = ppo_rollout(0.5, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dqn_replay_buffer_holds_attacked_observations_and_next_observations() -> None:
    recorder = Recorder(make_vec_env("CartPole-v1", n_envs=2, seed=0))
    model = DQN("MlpPolicy", recorder, learning_starts=10_000, seed=0, device="cpu")
    model.learn(100, callback=AdversarialTraining(attack="pgd", steps=3, eps=EPS, seed=0))
    buffer = model.replay_buffer
    stored = buffer.observations[: buffer.pos]
    clean = np.stack(recorder.obs[: buffer.pos])
    diff = np.abs(stored - clean).max(axis=-1)
    assert (diff > 0).all() and diff.max() <= EPS + 1e-6
    # next_obs: the attacked observation the agent saw next (or the attacked terminal one).
    nxt = np.abs(buffer.next_observations[: buffer.pos] - np.stack(recorder.next_obs[: buffer.pos]))
    assert np.stack(recorder.dones[: buffer.pos]).any()  # terminal observations are covered
    assert (nxt.max(axis=-1) > 0).all() and nxt.max() <= EPS + 1e-6


def test_schedule_warm_up_from_zero_and_clock() -> None:
    venv = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    model = PPO("MlpPolicy", venv, device="cpu", seed=0)
    wrapper = AdversarialObservations(
        venv, model, eps=0.2, schedule={"type": "linear", "start": 0, "end": 1, "steps": 100}
    )
    assert wrapper.current_eps() == 0.0
    obs = venv.reset()
    assert wrapper.perturb(obs, np.ones(1, dtype=bool)) is obs  # radius 0: untouched
    wrapper.seed(0)  # VecEnv.seed(), not shadowed by the wrapper's own seed option
    assert wrapper.attack_seed is None
    wrapper.set_noise_step(50)
    assert wrapper.noise_scales() == {"adversarial_eps": pytest.approx(0.1)}


def test_bad_options_name_field_and_value() -> None:
    with pytest.raises(ValueError, match=r"fraction must be <= 1.0, got 2"):
        AdversarialTraining(fraction=2)
    with pytest.raises(ValueError, match=r"attack must be one of .* got 'cw'"):
        AdversarialTraining(attack="cw")
    with pytest.raises(ValueError, match=r"per must be one of"):
        AdversarialTraining(per="rollout")


def test_terminal_observation_follows_its_rows_draw() -> None:
    recorder = Recorder(make_vec_env("CartPole-v1", n_envs=2, seed=0))
    model = DQN("MlpPolicy", recorder, learning_starts=10_000, seed=0, device="cpu")
    callback = AdversarialTraining(attack="fgsm", eps=EPS, fraction=0.5, seed=0)
    model.learn(400, callback=callback)
    buffer = model.replay_buffer
    n = buffer.pos - 1
    dones = np.stack(recorder.dones[:n])
    next_changed = np.abs(buffer.next_observations[:n] - np.stack(recorder.next_obs[:n])) > 0
    obs_changed = np.abs(buffer.observations[1 : n + 1] - np.stack(recorder.obs[1 : n + 1])) > 0
    # At an episode end the terminal observation (stored as next observation) and the reset
    # observation returned beside it share the row's draw of that step.
    assert dones.sum() >= 10
    np.testing.assert_array_equal(next_changed.any(-1)[dones], obs_changed.any(-1)[dones])


@pytest.mark.parametrize("attack", ["critic", "mad"])
def test_the_evaluations_critic_and_mad_objectives_train_too(attack: str) -> None:
    """The attacks of the evaluation grid are nameable here; they stay in the ball and move."""
    from rlnoise.robust.adversarial import make_attack

    model = PPO("MlpPolicy", "CartPole-v1", seed=0, device="cpu")
    obs = torch.as_tensor(np.random.default_rng(0).normal(size=(16, 4)), dtype=torch.float32)
    generator = torch.Generator().manual_seed(0)
    attacked = make_attack(attack, steps=3)(model.policy, obs, EPS, generator)
    assert (attacked - obs).abs().max() <= EPS + 1e-6
    assert (attacked - obs).abs().max() > 0
    recorder = Recorder(make_vec_env("CartPole-v1", n_envs=2, seed=0))
    dqn = DQN("MlpPolicy", recorder, learning_starts=10_000, seed=0, device="cpu")
    dqn.learn(50, callback=AdversarialTraining(attack=attack, steps=2, eps=EPS, seed=0))
    stored = dqn.replay_buffer.observations[: dqn.replay_buffer.pos]
    clean = np.stack(recorder.obs[: dqn.replay_buffer.pos])
    assert 0 < np.abs(stored - clean).max() <= EPS + 1e-6
