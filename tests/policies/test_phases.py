"""Which noise acting, the loss and predict see, inside real SB3 training loops."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from stable_baselines3 import DQN, PPO, SAC

from rlnoise.nn import noise_disabled, noise_phase
from rlnoise.policies import NoisyActorCriticPolicy, NoisyDQNPolicy, NoisySACPolicy

SMALL = {"net_arch": [16, 16]}


def ppo(**policy_kwargs: Any) -> PPO:
    return PPO(
        NoisyActorCriticPolicy,
        "CartPole-v1",
        n_steps=32,
        batch_size=32,
        n_epochs=1,
        policy_kwargs={**SMALL, **policy_kwargs},
        seed=0,
        device="cpu",
    )


def collect(model: PPO) -> None:
    """One rollout exactly as learn() does it."""
    _, callback = model._setup_learn(model.n_steps, callback=None)
    callback.on_training_start(locals(), globals())
    model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=model.n_steps)


def buffer_log_probs(model: PPO) -> tuple[torch.Tensor, torch.Tensor]:
    """(stored log-probs, log-probs the policy gives the stored actions now)."""
    data = next(model.rollout_buffer.get(batch_size=None))
    with torch.no_grad():
        _, log_prob, _ = model.policy.evaluate_actions(
            data.observations, data.actions.long().flatten()
        )
    return data.old_log_prob, log_prob


def test_ppo_phases_during_learn() -> None:
    model = ppo()
    seen: list[tuple[bool, str, bool, bool]] = []
    policy = model.policy
    weight, activation = (
        policy.noise_injectors["weight_noise"],
        policy.noise_injectors["activation_noise"],
    )
    policy.action_net.register_forward_pre_hook(
        lambda m, a: seen.append(
            (policy.training, policy.noise_phase, weight.installed, activation.installed)
        )
    )
    model.learn(64)
    rollout = {s[1:] for s in seen if not s[0]}
    train = {s[1:] for s in seen if s[0]}
    assert rollout == {("rollout", False, False)}  # regularisers are off while acting
    assert train == {("train", True, True)}  # and on in the loss
    seen.clear()
    model.predict(np.zeros(4, np.float32))
    assert seen == [(False, "eval", False, False)]


def test_ppo_regulariser_stores_clean_log_probs_and_noises_the_loss() -> None:
    model = ppo()
    collect(model)
    stored, now = buffer_log_probs(model)
    assert torch.allclose(stored, now, atol=1e-6)  # acting was the clean network
    model.policy.set_training_mode(True)
    _, in_loss = buffer_log_probs(model)
    assert not torch.allclose(stored, in_loss, atol=1e-4)  # the update sees fresh noise
    _, again = buffer_log_probs(model)
    assert not torch.equal(in_loss, again)  # fresh per forward


def test_ppo_noisynet_loss_reuses_the_rollout_sample() -> None:
    model = ppo(noisy_net=True, weight_noise=None, activation_noise=None)
    collect(model)
    model.policy.set_training_mode(True)
    stored, in_loss = buffer_log_probs(model)
    assert torch.allclose(stored, in_loss, atol=1e-6)  # importance ratio exactly 1 before updating
    with noise_disabled(model):
        _, clean = buffer_log_probs(model)
    assert not torch.allclose(stored, clean, atol=1e-4)
    # The next rollout draws a new sample.
    before = model.policy.action_net.weight_epsilon
    collect(model)
    assert not torch.equal(model.policy.action_net.weight_epsilon, before)


def dqn(**policy_kwargs: Any) -> DQN:
    model = DQN(
        NoisyDQNPolicy,
        "CartPole-v1",
        learning_starts=0,
        batch_size=16,
        policy_kwargs={**SMALL, **policy_kwargs},
        seed=0,
        device="cpu",
    )
    model.learn(40)
    return model


def online_and_target(model: DQN) -> tuple[list[Any], list[Any]]:
    net = model.policy.noise_injectors["noisy_net"]
    return net.layers["online"], net.layers["target"]


def test_dqn_noisynet_resamples_per_acting_step_and_evaluates_with_means() -> None:
    model = dqn()
    assert model.exploration_rate == 0.0
    online, target = online_and_target(model)
    model.predict(model._last_obs)  # acting step (the algorithm's own observation)
    first = online[0].weight_epsilon
    model.predict(model._last_obs)
    assert model.policy.noise_phase == "rollout"
    assert not torch.equal(online[0].weight_epsilon, first)
    # Online and target draw independently.
    model.policy.set_training_mode(True)
    with torch.no_grad():
        model.q_net_target(torch.zeros(1, 4))
    assert not torch.equal(target[0].weight_epsilon, online[0].weight_epsilon)
    # Evaluation: a copy of the observation is not the algorithm's; the means act.
    obs = model._last_obs.copy()
    action, _ = model.predict(obs, deterministic=True)
    assert model.policy.noise_phase == "eval"
    with noise_disabled(model):
        clean, _ = model.predict(obs, deterministic=True)
    assert np.array_equal(action, clean)
    assert not online[0].noise_enabled  # eval phase: means only


def test_dqn_noisynet_resamples_every_gradient_update() -> None:
    model = dqn()
    online, target = online_and_target(model)
    model.policy.set_training_mode(True)
    with torch.no_grad():
        model.q_net(torch.zeros(1, 4))
        model.q_net_target(torch.zeros(1, 4))
    seen = (online[0].weight_epsilon, target[0].weight_epsilon)
    model.train(gradient_steps=1, batch_size=16)  # one update: both nets resample
    with torch.no_grad():  # (lazily: drawn when each net is next used)
        model.q_net(torch.zeros(1, 4))
        model.q_net_target(torch.zeros(1, 4))
    assert not torch.equal(online[0].weight_epsilon, seen[0])
    assert not torch.equal(target[0].weight_epsilon, seen[1])


def test_dqn_keep_epsilon_and_plain_regularisers_leave_epsilon_alone() -> None:
    kept = DQN(
        NoisyDQNPolicy,
        "CartPole-v1",
        policy_kwargs={"noisy_net": {"keep_epsilon": True}},
        device="cpu",
    )
    assert (kept.exploration_initial_eps, kept.exploration_final_eps) == (1.0, 0.05)
    regular = DQN(
        NoisyDQNPolicy,
        "CartPole-v1",
        policy_kwargs={"noisy_net": False, "weight_noise": "gaussian:0.01"},
        device="cpu",
    )
    assert regular.exploration_final_eps == 0.05


def test_sac_param_noise_perturbs_acting_only() -> None:
    model = SAC(
        NoisySACPolicy,
        "Pendulum-v1",
        learning_starts=16,
        batch_size=16,
        policy_kwargs=dict(SMALL),
        seed=0,
        device="cpu",
    )
    model.learn(80)  # 64 acting steps: sigma adapted once (every 50)
    obs = model._last_obs
    with noise_phase(model, "rollout"):
        perturbed, _ = model.predict(obs.copy(), deterministic=True)
    clean, _ = model.predict(obs.copy(), deterministic=True)
    with noise_disabled(model):
        disabled, _ = model.predict(obs.copy(), deterministic=True)
    assert not np.allclose(perturbed, clean)
    assert np.array_equal(clean, disabled)
    param = model.policy.noise_injectors["param_noise"]
    assert param.last_distance is not None and param.sigma != pytest.approx(0.1)


def test_same_seed_same_noisy_outputs() -> None:
    def train_outputs(global_seed: int, **policy_kwargs: Any) -> torch.Tensor:
        model = ppo(**policy_kwargs)
        model.learn(32)
        model.policy.set_training_mode(True)
        # SB3's seed pins the global RNG; move it so that noise drawn from it would differ.
        torch.manual_seed(global_seed)
        obs = torch.ones(3, 4)
        return model.policy.evaluate_actions(obs, torch.zeros(3))[1].detach()

    first = train_outputs(100)
    assert torch.equal(first, train_outputs(200))
    assert not torch.equal(first, train_outputs(100, noise_seed=1))  # the noise seed decides


def test_direct_network_calls_after_training_see_eval() -> None:
    # An evaluator puts the policy in eval mode and calls its networks directly.
    model = SAC(
        NoisySACPolicy,
        "Pendulum-v1",
        learning_starts=8,
        batch_size=8,
        policy_kwargs=dict(SMALL),
        seed=0,
        device="cpu",
    )
    model.learn(24)
    model.predict(model._last_obs)  # leaves the policy acting
    assert model.policy.noise_phase == "rollout"
    model.policy.set_training_mode(False)
    assert model.policy.noise_phase == "eval"
    obs = torch.as_tensor(model._last_obs)
    with torch.no_grad():
        direct = model.policy.actor(obs, deterministic=True)
        with noise_disabled(model):
            clean = model.policy.actor(obs, deterministic=True)
    assert torch.equal(direct, clean)


def test_dqn_param_noise_target_follows_the_epsilon_schedule() -> None:
    from rlnoise.core.adaptive import dqn_distance_target

    model = DQN(
        NoisyDQNPolicy,
        "CartPole-v1",
        learning_starts=0,
        batch_size=16,
        exploration_fraction=0.5,
        exploration_final_eps=0.1,
        policy_kwargs={**SMALL, "noisy_net": False, "param_noise": "gaussian:0.1"},
        seed=0,
        device="cpu",
    )
    model.learn(200)
    param = model.policy.noise_injectors["param_noise"]
    # The target was last set at the last adaptation (every 50 acting steps: step 200),
    # when progress was 200/200: epsilon at its final value.
    assert model.exploration_rate == 0.0
    assert param.target == pytest.approx(dqn_distance_target(0.1, 2))
    assert param.distance_name == "kl"


def test_noise_follows_the_policy_to_another_dtype() -> None:
    # Stands in for .to("cuda") on a CPU-only machine: hooks installed, then the move.
    model = ppo(weight_noise="gaussian:0.05,resample=rollout")
    policy = model.policy
    policy.set_training_mode(True)  # hooks in place
    policy.double()
    features = torch.ones(2, 4, dtype=torch.float64)
    out = policy.mlp_extractor.policy_net(features)  # SB3 casts observations to float32
    assert out.dtype == torch.float64 and torch.isfinite(out).all()
    with noise_disabled(model):
        clean = policy.mlp_extractor.policy_net(features)
    assert not torch.allclose(out, clean)  # the held noise, redrawn in float64, applies
